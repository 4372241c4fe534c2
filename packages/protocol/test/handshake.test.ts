import test from 'ava'
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import {
  decodeHello,
  decodeHelloOk,
  decodeNackOrError,
  decodeWelcome,
  ErrorCode,
  encodeBody,
  encodeError,
  encodeHello,
  encodeHelloOk,
  encodeNack,
  encodeWelcome,
  FrameDecoder,
  FrameType,
  type Hello,
  ProtocolError,
  type Welcome,
} from '../src/index.ts'

const pack = (v: unknown) => new Packr({ useRecords: false }).pack(v)
const welcome: Welcome = {
  server: 'module-ingest/0.1',
  proto: 1,
  nonce: Buffer.alloc(16, 1),
  auth: ['token', 'hmac'],
  compression: ['zstd'],
  max_frame: 1 << 20,
  heartbeat_ms: 10_000,
}
const hmacHello: Hello = {
  module: 'sensor-1',
  core: 'core:0',
  method: 'hmac',
  cnonce: Buffer.alloc(16, 2),
  proof: Buffer.alloc(32, 3),
  mac: true,
  client: 'test',
}

function frameOf(bytes: Buffer, role: 'server' | 'client') {
  const dec = new FrameDecoder({ maxFrame: 1 << 20, role })
  dec.push(bytes)
  return dec.next()!
}

test('WELCOME / HELLO / HELLO_OK round trip through frames', (t) => {
  const w = frameOf(encodeWelcome(welcome), 'client')
  t.is(w.type, FrameType.WELCOME)
  t.is(w.seq, 0n)
  t.deepEqual(decodeWelcome(w.payload), welcome)
  const h = frameOf(encodeHello(hmacHello), 'server')
  t.is(h.type, FrameType.HELLO)
  t.deepEqual(decodeHello(h.payload), hmacHello)
  const tok = { module: 'm', method: 'token' as const, token: 'secret' }
  t.deepEqual(decodeHello(encodeBody(tok)), tok)
  const ok = frameOf(encodeHelloOk(42n, { session: 's1', scopes: ['write:*'], mac: true }), 'client')
  t.is(ok.seq, 42n)
  t.is(ok.flags, 0, 'HELLO_OK carries a CRC even when it opens a MAC session')
  t.deepEqual(decodeHelloOk(ok.payload), { session: 's1', scopes: ['write:*'], mac: true })
})

test('NACK and ERROR bodies', (t) => {
  const n = frameOf(encodeNack(9n, ErrorCode.FORBIDDEN, 'no'), 'client')
  t.is(n.seq, 9n)
  t.deepEqual(decodeNackOrError(n.payload), { code: 7, message: 'no' })
  const e = frameOf(encodeError(ErrorCode.SUPERSEDED, 'bye'), 'client')
  t.is(e.type, FrameType.ERROR)
  t.deepEqual(decodeNackOrError(e.payload), { code: 13, message: 'bye' })
})

test('malformed HELLO is AUTH_FAILED with one uniform message', (t) => {
  const bad: unknown[] = [
    'not a map',
    [1, 2],
    {},
    { module: 'bad name', method: 'token', token: 't' },
    { module: 'x'.repeat(129), method: 'token', token: 't' },
    { module: 'm', core: 'bad/core', method: 'token', token: 't' },
    { module: 'm', method: 'token' },
    { module: 'm', method: 'token', token: 5 },
    { module: 'm', method: 'hmac', cnonce: Buffer.alloc(15), proof: Buffer.alloc(32) },
    { module: 'm', method: 'hmac', cnonce: Buffer.alloc(16), proof: Buffer.alloc(31) },
    { module: 'm', method: 'hmac', cnonce: 'x'.repeat(16), proof: Buffer.alloc(32) },
    { module: 'm', method: 'password', token: 't' },
    { module: 'm', method: 'token', token: 't', mac: 'yes' },
    { module: 'm', method: 'token', token: 't', fingerprint: 1 },
  ]
  for (const b of bad) {
    const err = t.throws(() => decodeHello(pack(b)), { instanceOf: ProtocolError }, JSON.stringify(b))
    t.is(err.code, ErrorCode.AUTH_FAILED)
    t.is(err.message, 'authentication failed')
    t.true(err.fatal)
  }
  t.is(t.throws(() => decodeHello(Buffer.from([0xc1, 0xff])), { instanceOf: ProtocolError }).code, 6)
  // Unknown keys are ignored; a token HELLO may ask for mac (the server answers mac: false).
  t.is(decodeHello(pack({ module: 'm', method: 'token', token: 't', mac: true, extra: 1 })).mac, true)
})

test('malformed server bodies are fatal BAD_PAYLOAD; wrong proto is UNSUPPORTED_VERSION', (t) => {
  const cases: [(b: Uint8Array) => unknown, unknown][] = [
    [decodeWelcome, { ...welcome, nonce: Buffer.alloc(8) }],
    [decodeWelcome, { ...welcome, max_frame: -1 }],
    [decodeWelcome, { ...welcome, heartbeat_ms: 'x' }],
    [decodeWelcome, { ...welcome, auth: 'token' }],
    [decodeHelloOk, { session: 's', scopes: 'admin', mac: false }],
    [decodeHelloOk, { session: 's', scopes: [], mac: 1 }],
    [decodeNackOrError, { code: 'x', message: 'm' }],
    [decodeNackOrError, { code: 1.5, message: 'm' }],
    [decodeNackOrError, { code: 1 }],
    [decodeNackOrError, [1, 'x']],
  ]
  for (const [fn, body] of cases) {
    const err = t.throws(() => fn(pack(body)), { instanceOf: ProtocolError })
    t.is(err.code, ErrorCode.BAD_PAYLOAD)
    t.true(err.fatal)
  }
  t.is(t.throws(() => decodeWelcome(pack({ ...welcome, proto: 2 })), { instanceOf: ProtocolError }).code, 2)
  t.is(t.throws(() => decodeNackOrError(Buffer.from([0x81])), { instanceOf: ProtocolError }).code, 9)
})

test('a 64-bit max_frame (uint64/int64 on the wire) decodes as a number', (t) => {
  const w = decodeWelcome(pack({ ...welcome, max_frame: 1n << 20n }))
  t.is(w.max_frame, 1 << 20)
})

test('arbitrary bytes into body decoders throw only ProtocolError', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (a) => {
      for (const fn of [decodeWelcome, decodeHello, decodeHelloOk, decodeNackOrError]) {
        try {
          fn(a)
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err
        }
      }
    }),
    { numRuns: 300 },
  )
  t.pass()
})

test('__proto__ keys do not pollute', (t) => {
  const b = Buffer.from(
    '83a66d6f64756c65a16da66d6574686f64a5746f6b656ea95f5f70726f746f5f5f81a5746f6b656ea178',
    'hex',
  )
  t.throws(() => decodeHello(b), { instanceOf: ProtocolError })
  t.is(({} as Record<string, unknown>).token, undefined)
})
