/**
 * PROTOCOL.md, rule by rule, against the real engine over real TCP (in this process).
 */
import { openReader } from '@module-ingest/log'
import {
  decodeNackOrError,
  ErrorCode,
  encodeBatchFrame,
  encodeData,
  encodeFrame,
  encodeHello,
  FrameType,
} from '@module-ingest/protocol'
import { MipSocket } from '@module-ingest/testing'
import anyTest, { type TestFn } from 'ava'
import { startTestServer, type TestServer } from './fixtures/_server.ts'

const test = anyTest as TestFn<TestServer>

test.before(async (t) => {
  t.context = await startTestServer()
})
test.after.always(async (t) => {
  await t.context.stop()
})

const record = (body: string, stream = 'telemetry.temp') => ({ stream, ts: 1_700_000_000_000_000, body })

async function readAll(dataDir: string) {
  const reader = await openReader(`${dataDir}/log`)
  const out = []
  const cursor = reader.cursor({ fromLsn: 1 })
  for (;;) {
    const batch = await cursor.read({ maxRecords: 10_000 })
    if (batch.length === 0) break
    out.push(...batch)
  }
  await reader.close()
  return out
}

test.serial('token handshake, DATA, cumulative ACK once durable, record in the log', async (t) => {
  const { sock, hwm } = await MipSocket.session(t.context.port, {
    module: 'sensor-a',
    token: t.context.token,
  })
  t.is(hwm, 0n)
  t.is(sock.welcome!.max_frame, 1024 * 1024)
  t.true(sock.welcome!.server.includes('fdatasync'))
  for (let seq = 1n; seq <= 5n; seq++) sock.write(encodeData(seq, record(`v${seq}`)))
  t.is(await sock.ackFor(5n), 5n)
  sock.close()
  const stored = (await readAll(t.context.dataDir)).filter((r) => r.module === 'sensor-a')
  t.deepEqual(
    stored.map((r) => Buffer.from(r.body).toString()),
    ['v1', 'v2', 'v3', 'v4', 'v5'],
  )
  t.is(stored[0]!.seq, 1n)
  t.is(stored[0]!.stream, 'telemetry.temp')
  t.true(stored[0]!.rts > 0)
})

test.serial(
  'duplicates are settled and not stored again; HELLO_OK resumes from the high-water mark',
  async (t) => {
    const a = await MipSocket.session(t.context.port, { module: 'sensor-b', token: t.context.token })
    a.sock.write(encodeData(1n, record('one')))
    a.sock.write(encodeData(2n, record('two')))
    await a.sock.ackFor(2n)
    // A duplicate is settled at once; the ACK that covers it was already sent, so no new one is due.
    a.sock.write(encodeData(2n, record('two again')))
    a.sock.write(encodeData(3n, record('three')))
    t.is(await a.sock.ackFor(3n), 3n)
    a.sock.close()
    const b = await MipSocket.session(t.context.port, { module: 'sensor-b', token: t.context.token })
    t.is(b.hwm, 3n)
    b.sock.write(encodeData(1n, record('old')))
    b.sock.write(encodeData(7n, record('seven'))) // gaps are allowed
    t.is(await b.sock.ackFor(7n), 7n)
    b.sock.close()
    const stored = (await readAll(t.context.dataDir)).filter((r) => r.module === 'sensor-b')
    t.deepEqual(
      stored.map((r) => Buffer.from(r.body).toString()),
      ['one', 'two', 'three', 'seven'],
    )
  },
)

test.serial('NACKs: BAD_SEQ, FORBIDDEN, BAD_PAYLOAD — connection goes on, ACK covers them', async (t) => {
  const { sock } = await MipSocket.session(t.context.port, { module: 'sensor-c', token: t.context.token })
  sock.write(encodeData(0n, record('zero')))
  let f = await sock.expect(FrameType.NACK)
  t.is(decodeNackOrError(f.payload).code, ErrorCode.BAD_SEQ)
  sock.write(encodeData(1n, record('x', 'secret.stream')))
  f = await sock.expect(FrameType.NACK)
  t.is(f.seq, 1n)
  t.is(decodeNackOrError(f.payload).code, ErrorCode.FORBIDDEN)
  t.is(await sock.ackFor(1n), 1n)
  sock.write(encodeFrame(FrameType.DATA, 2n, Buffer.from([0])))
  f = await sock.expect(FrameType.NACK)
  t.is(decodeNackOrError(f.payload).code, ErrorCode.BAD_PAYLOAD)
  t.is(await sock.ackFor(2n), 2n)
  sock.write(encodeData(3n, record('fine')))
  t.is(await sock.ackFor(3n), 3n)
  sock.close()
})

test.serial('BATCH is stored contiguously; a bad record NACKs the whole batch', async (t) => {
  const { sock } = await MipSocket.session(t.context.port, { module: 'sensor-d', token: t.context.token })
  sock.write(encodeBatchFrame(1n, [record('a'), record('b', 'telemetry.hum'), record('c')]))
  t.is(await sock.ackFor(1n), 1n)
  sock.write(encodeBatchFrame(2n, [record('a'), record('b', 'other')]))
  const nack = await sock.expect(FrameType.NACK)
  t.is(decodeNackOrError(nack.payload).code, ErrorCode.FORBIDDEN)
  sock.write(encodeBatchFrame(3n, [record('z')], { compress: true }))
  t.is(await sock.ackFor(3n), 3n)
  sock.close()
  const stored = (await readAll(t.context.dataDir)).filter((r) => r.module === 'sensor-d')
  t.deepEqual(
    stored.map((r) => `${r.seq}:${Buffer.from(r.body)}`),
    ['1:a', '1:b', '1:c', '3:z'],
  )
  t.is(stored[1]!.lsn, stored[0]!.lsn + 1)
})

test.serial('PING gets PONG with the same seq and payload', async (t) => {
  const { sock } = await MipSocket.session(t.context.port, { module: 'sensor-e', token: t.context.token })
  sock.write(encodeFrame(FrameType.PING, 42n, Buffer.from('hi')))
  const pong = await sock.expect(FrameType.PONG)
  t.is(pong.seq, 42n)
  t.is(pong.payload.toString(), 'hi')
  sock.close()
})

test('a frame before HELLO is AUTH_REQUIRED, and the server closes', async (t) => {
  const sock = await MipSocket.open(t.context.port)
  sock.write(encodeData(1n, record('early')))
  t.is(await sock.expectError(), ErrorCode.AUTH_REQUIRED)
  await sock.closed()
})

test('a second HELLO is AUTH_REQUIRED', async (t) => {
  const { sock } = await MipSocket.session(t.context.port, { module: 'sensor-f', token: t.context.token })
  sock.write(encodeHello({ module: 'sensor-f', method: 'token', token: t.context.token }))
  t.is(await sock.expectError(), ErrorCode.AUTH_REQUIRED)
})

test('wrong token and unknown module get the same AUTH_FAILED', async (t) => {
  const messages: string[] = []
  for (const hello of [
    { module: 'sensor-g', token: 'mi_wrong' },
    { module: 'nobody', token: t.context.token },
  ]) {
    const sock = await MipSocket.open(t.context.port)
    const err = await sock.hello(hello).catch((e: { code: number; message: string }) => e)
    t.is((err as { code: number }).code, ErrorCode.AUTH_FAILED)
    messages.push((err as { message: string }).message)
    await sock.closed()
  }
  t.is(messages[0], messages[1])
})

test('bad CRC is BAD_CHECKSUM; bad magic is BAD_MAGIC', async (t) => {
  const { sock } = await MipSocket.session(t.context.port, { module: 'sensor-h', token: t.context.token })
  const frame = encodeData(1n, record('x'))
  frame[frame.length - 1]! ^= 0xff
  sock.write(frame)
  t.is(await sock.expectError(), ErrorCode.BAD_CHECKSUM)
  const s2 = await MipSocket.open(t.context.port)
  s2.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'))
  t.is(await s2.expectError(), ErrorCode.BAD_MAGIC)
})

test('an oversized frame is FRAME_TOO_LARGE before its payload arrives', async (t) => {
  const { sock } = await MipSocket.session(t.context.port, { module: 'sensor-i', token: t.context.token })
  const header = encodeFrame(FrameType.DATA, 1n, Buffer.alloc(0)).subarray(0, 20)
  header.writeUInt32BE(2 * 1024 * 1024, 8)
  sock.write(header)
  t.is(await sock.expectError(), ErrorCode.FRAME_TOO_LARGE)
})

test('handshake timeout', async (t) => {
  const sock = await MipSocket.open(t.context.port)
  t.is(await sock.expectError(5000), ErrorCode.HANDSHAKE_TIMEOUT)
})

test.serial('hmac handshake with per-frame MAC; a tampered MAC is BAD_MAC', async (t) => {
  const { sock } = await MipSocket.session(t.context.port, {
    module: 'hmac-1',
    hmacKey: t.context.hmacKey,
    mac: true,
  })
  sock.write(encodeData(1n, record('signed', 'any.stream'), sock.macKey))
  t.is(await sock.ackFor(1n), 1n)
  sock.write(encodeData(2n, record('unsigned', 'any.stream')))
  t.is(await sock.expectError(), ErrorCode.BAD_MAC)
})

test('a module that requires MAC cannot log in without it', async (t) => {
  const sock = await MipSocket.open(t.context.port)
  const err = await sock
    .hello({ module: 'mac-1', hmacKey: t.context.macKey })
    .catch((e: { code: number }) => e)
  t.is((err as { code: number }).code, ErrorCode.AUTH_FAILED)
})

test.serial('a new session supersedes the old one; HELLO_OK covers what the old one sent', async (t) => {
  const old = await MipSocket.session(t.context.port, { module: 'sensor-s', token: t.context.token })
  for (let seq = 1n; seq <= 50n; seq++) old.sock.write(encodeData(seq, record(`s${seq}`)))
  await old.sock.ackFor(50n)
  const fresh = await MipSocket.session(t.context.port, { module: 'sensor-s', token: t.context.token })
  t.is(fresh.hwm, 50n)
  // The old connection was told, then closed.
  for (;;) {
    const f = await old.sock.next()
    if (f.type === FrameType.ERROR) {
      t.is(decodeNackOrError(f.payload).code, ErrorCode.SUPERSEDED)
      break
    }
  }
  fresh.sock.close()
})

test.serial('resume across a server restart: HELLO_OK carries the durable high-water mark', async (t) => {
  const a = await MipSocket.session(t.context.port, { module: 'sensor-r', token: t.context.token })
  for (let seq = 1n; seq <= 20n; seq++) a.sock.write(encodeData(seq, record(`r${seq}`)))
  await a.sock.ackFor(20n)
  a.sock.close()
  // AVA hands each test a shallow copy of the hook's context: use the object restart() returns.
  const live = await t.context.restart()
  const b = await MipSocket.session(live.port, { module: 'sensor-r', token: t.context.token })
  t.is(b.hwm, 20n)
  b.sock.close()
})

test('UNSUPPORTED_VERSION, UNSUPPORTED_TYPE and BAD_FRAME, each in the check order', async (t) => {
  const set = (at: number, value: number) => (f: Buffer) => {
    f[at] = value
    return f
  }
  const cases: Array<[string, (f: Buffer) => Buffer, number]> = [
    ['version 2', set(2, 2), ErrorCode.UNSUPPORTED_VERSION],
    ['reserved bits set', set(7, 1), ErrorCode.BAD_FRAME],
    ['COMPRESSED on DATA', set(5, 1), ErrorCode.BAD_FRAME],
    ['unknown type', (f) => f, ErrorCode.UNSUPPORTED_TYPE],
  ]
  for (const [name, mutate, code] of cases) {
    const { sock } = await MipSocket.session(t.context.port, { module: 'sensor-v', token: t.context.token })
    const frame =
      name === 'unknown type' ? encodeFrame(0x42 as never, 1n, Buffer.alloc(0)) : encodeData(1n, record('x'))
    // Mutating header bytes breaks the CRC too: the earlier check in the order must win.
    sock.write(mutate(frame))
    t.is(await sock.expectError(), code, name)
  }
  const { sock } = await MipSocket.session(t.context.port, { module: 'sensor-v', token: t.context.token })
  sock.write(encodeFrame(FrameType.PING, 1n, Buffer.alloc(65)))
  t.is(await sock.expectError(), ErrorCode.BAD_FRAME, 'PING payload over 64 bytes')
})
