// One test per check of the decoder, in the spec's order, plus precedence between them.
import test from 'ava'
import {
  ErrorCode as E,
  encodeAck,
  encodeData,
  encodeFrame,
  FrameDecoder,
  FrameType,
  ProtocolError,
} from '../src/index.ts'
import { codeOf, rawFrame } from './fixtures/_frames.ts'

const KEY = Buffer.alloc(32, 7)
const rec = { stream: 's', ts: 0, body: 'x' }
const payload = Buffer.from('payload')

test('a valid frame decodes (baseline)', (t) => {
  t.is(codeOf(rawFrame({ payload })), 0)
})

test('1 BAD_MAGIC', (t) => {
  t.is(codeOf(rawFrame({ magic: 0x4d4a, payload })), E.BAD_MAGIC)
  t.is(codeOf(Buffer.from('GET / HTTP/1.1\r\n\r\n')), E.BAD_MAGIC)
})

test('2 UNSUPPORTED_VERSION', (t) => {
  t.is(codeOf(rawFrame({ version: 2, payload })), E.UNSUPPORTED_VERSION)
  t.is(codeOf(rawFrame({ version: 0, payload })), E.UNSUPPORTED_VERSION)
})

test('19 BAD_FRAME: unknown flag bits, reserved field, COMPRESSED off BATCH, MAC flag outside a MAC session', (t) => {
  t.is(codeOf(rawFrame({ flags: 0x0004, payload })), E.BAD_FRAME)
  t.is(codeOf(rawFrame({ flags: 0x8000, payload })), E.BAD_FRAME)
  t.is(codeOf(rawFrame({ reserved: 1, payload })), E.BAD_FRAME)
  t.is(codeOf(rawFrame({ type: FrameType.DATA, flags: 0x0001, payload })), E.BAD_FRAME)
  t.is(codeOf(rawFrame({ type: FrameType.BATCH, flags: 0x0001, payload })), 0, 'COMPRESSED is fine on BATCH')
  t.is(codeOf(rawFrame({ flags: 0x0002, payload, trailer: { macKey: KEY } })), E.BAD_FRAME)
})

test('19 BAD_FRAME: PING payload over 64 bytes (65 fails, 64 passes)', (t) => {
  t.is(codeOf(rawFrame({ type: FrameType.PING, payload: Buffer.alloc(64) })), 0)
  t.is(codeOf(rawFrame({ type: FrameType.PING, payload: Buffer.alloc(65) })), E.BAD_FRAME)
  t.is(codeOf(rawFrame({ type: FrameType.PING, payload: Buffer.alloc(65) }), { role: 'client' }), E.BAD_FRAME)
})

test('17 BAD_MAC: frame without the MAC flag in a MAC session', (t) => {
  t.is(codeOf(encodeData(1n, rec), { macKey: KEY }), E.BAD_MAC)
})

test('3 FRAME_TOO_LARGE: max_frame boundary', (t) => {
  const at = rawFrame({ payload: Buffer.alloc(100) })
  t.is(codeOf(at, { maxFrame: 100 }), 0)
  t.is(codeOf(at, { maxFrame: 99 }), E.FRAME_TOO_LARGE)
  t.is(codeOf(rawFrame({ payload: Buffer.alloc(0) }), { maxFrame: 0 }), 0)
})

test('3 FRAME_TOO_LARGE fails fast: as soon as the header is in, without the payload', (t) => {
  const dec = new FrameDecoder({ maxFrame: 1024, role: 'server' })
  const head = rawFrame({ len: 0xffffffff }).subarray(0, 20)
  dec.push(head.subarray(0, 19))
  t.is(dec.next(), null)
  dec.push(head.subarray(19))
  const err = t.throws(() => dec.next(), { instanceOf: ProtocolError })
  t.is(err.code, E.FRAME_TOO_LARGE)
  t.is(err.seq, 1n)
  t.true(err.fatal)
})

test('bad magic fails on the first byte', (t) => {
  const dec = new FrameDecoder({ maxFrame: 1024, role: 'server' })
  dec.push(Uint8Array.of(0x16)) // a TLS ClientHello on a plain port
  t.is(t.throws(() => dec.next(), { instanceOf: ProtocolError }).code, E.BAD_MAGIC)
})

test('4 BAD_CHECKSUM: CRC mismatch, and a flipped payload bit', (t) => {
  t.is(codeOf(rawFrame({ payload, trailer: 'bad-crc' })), E.BAD_CHECKSUM)
  const good = encodeData(5n, rec)
  good[good.length - 5]! ^= 0x10
  t.is(codeOf(good), E.BAD_CHECKSUM)
})

test('17 BAD_MAC: MAC mismatch in a MAC session', (t) => {
  t.is(codeOf(encodeData(1n, rec, KEY), { macKey: KEY }), 0)
  t.is(codeOf(encodeData(1n, rec, Buffer.alloc(32, 8)), { macKey: KEY }), E.BAD_MAC)
  t.is(codeOf(rawFrame({ flags: 2, payload, trailer: Buffer.alloc(16) }), { macKey: KEY }), E.BAD_MAC)
})

test('15 UNSUPPORTED_TYPE: unknown types, and types of the other direction per role', (t) => {
  t.is(codeOf(rawFrame({ type: 0x55, payload })), E.UNSUPPORTED_TYPE)
  for (const type of [
    FrameType.WELCOME,
    FrameType.HELLO_OK,
    FrameType.ACK,
    FrameType.NACK,
    FrameType.ERROR,
  ]) {
    t.is(
      codeOf(rawFrame({ type, payload }), { role: 'server' }),
      E.UNSUPPORTED_TYPE,
      `server gets 0x${type.toString(16)}`,
    )
    t.is(codeOf(rawFrame({ type, payload }), { role: 'client' }), 0)
  }
  for (const type of [FrameType.HELLO, FrameType.DATA, FrameType.BATCH]) {
    t.is(codeOf(rawFrame({ type, payload }), { role: 'client' }), E.UNSUPPORTED_TYPE)
    t.is(codeOf(rawFrame({ type, payload }), { role: 'server' }), 0)
  }
  for (const type of [FrameType.PING, FrameType.PONG]) {
    t.is(codeOf(rawFrame({ type, payload }), { role: 'client' }), 0)
    t.is(codeOf(rawFrame({ type, payload }), { role: 'server' }), 0)
  }
})

test('order: the first failing check decides', (t) => {
  const huge = 1 << 20
  // bad magic AND bad CRC → BAD_MAGIC
  t.is(codeOf(rawFrame({ magic: 0, payload, trailer: 'bad-crc' })), E.BAD_MAGIC)
  // bad magic AND bad version → BAD_MAGIC
  t.is(codeOf(rawFrame({ magic: 0, version: 9, payload })), E.BAD_MAGIC)
  // bad version AND reserved bits → UNSUPPORTED_VERSION
  t.is(codeOf(rawFrame({ version: 9, reserved: 1, payload })), E.UNSUPPORTED_VERSION)
  // reserved bits AND oversized L → BAD_FRAME
  t.is(codeOf(rawFrame({ reserved: 1, len: huge + 1 }), { maxFrame: huge }), E.BAD_FRAME)
  // oversized L AND bad CRC → FRAME_TOO_LARGE
  t.is(
    codeOf(rawFrame({ payload: Buffer.alloc(11), trailer: 'bad-crc' }), { maxFrame: 10 }),
    E.FRAME_TOO_LARGE,
  )
  // bad CRC AND unknown type → BAD_CHECKSUM
  t.is(codeOf(rawFrame({ type: 0x55, payload, trailer: 'bad-crc' })), E.BAD_CHECKSUM)
  // bad MAC AND unknown type → BAD_MAC
  t.is(
    codeOf(rawFrame({ type: 0x55, flags: 2, payload, trailer: Buffer.alloc(16) }), { macKey: KEY }),
    E.BAD_MAC,
  )
  // unknown type AND MAC flag outside session → BAD_FRAME (flags come before type)
  t.is(codeOf(rawFrame({ type: 0x55, flags: 2, payload, trailer: { macKey: KEY } })), E.BAD_FRAME)
  // PING over 64 AND over max_frame → BAD_FRAME (the PING rule is part of the flags step)
  t.is(codeOf(rawFrame({ type: FrameType.PING, payload: Buffer.alloc(100) }), { maxFrame: 80 }), E.BAD_FRAME)
})

test('the decoder stays failed after a fatal error', (t) => {
  const dec = new FrameDecoder({ maxFrame: 1024, role: 'server' })
  dec.push(rawFrame({ payload, trailer: 'bad-crc' }))
  const first = t.throws(() => dec.next(), { instanceOf: ProtocolError })
  t.is(dec.error, first)
  t.is(
    t.throws(() => dec.next()),
    first,
  )
  t.is(
    t.throws(() => dec.push(encodeData(2n, rec))),
    first,
  )
})

test('setMacKey takes effect at the next frame: HELLO_OK with CRC, then MAC frames', (t) => {
  const dec = new FrameDecoder({ maxFrame: 1024, role: 'client' })
  dec.push(Buffer.concat([encodeFrame(FrameType.HELLO_OK, 7n, Buffer.alloc(1)), encodeAck(8n, KEY)]))
  t.is(dec.next()!.type, FrameType.HELLO_OK)
  dec.setMacKey(KEY)
  const ack = dec.next()!
  t.is(ack.type, FrameType.ACK)
  t.is(ack.seq, 8n)
})

test('payload is a zero-copy view when the frame lies in one chunk', (t) => {
  const dec = new FrameDecoder({ maxFrame: 1024, role: 'server' })
  const chunk = encodeData(1n, rec)
  dec.push(chunk)
  const f = dec.next()!
  t.is(f.payload.buffer, chunk.buffer)
  t.is(dec.bufferedBytes, 0)
})

test('push() without draining next() loses nothing', (t) => {
  const dec = new FrameDecoder({ maxFrame: 1024, role: 'server' })
  const all = Buffer.concat([1n, 2n, 3n, 4n].map((s) => encodeData(s, rec)))
  dec.push(all.subarray(0, 30))
  dec.push(all.subarray(30, 90))
  dec.push(all.subarray(90))
  const seqs: bigint[] = []
  for (let f = dec.next(); f; f = dec.next()) seqs.push(f.seq)
  t.deepEqual(seqs, [1n, 2n, 3n, 4n])
  t.is(dec.bufferedBytes, 0)
})

test('constructor validates options with a coded error', (t) => {
  t.throws(() => new FrameDecoder({ maxFrame: -1, role: 'server' }), {
    code: 'MI_ERR_PROTOCOL_OPT_INVALID',
  } as never)
  t.throws(() => new FrameDecoder({ maxFrame: 10, role: 'x' as 'server' }), {
    code: 'MI_ERR_PROTOCOL_OPT_INVALID',
  } as never)
})
