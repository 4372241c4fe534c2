// What a partial frame costs (issue 11.1): the decoder buffers what arrived, never what a header
// announces, and its frame cap can start small (pre-auth) and be raised.
import test from 'ava'
import {
  ErrorCode,
  encodeFrame,
  FrameDecoder,
  FrameType,
  MAX_HELLO_PAYLOAD,
  ProtocolError,
} from '../src/index.ts'

const MiB = 1024 * 1024

test('a header announcing max_frame, then a trickle: memory follows the bytes sent', (t) => {
  const d = new FrameDecoder({ maxFrame: 16 * MiB, role: 'server' })
  const frame = encodeFrame(FrameType.DATA, 1n, Buffer.alloc(16 * MiB - 100, 1))
  // Two chunks: the header in one, a few payload bytes in the next (the pattern of the attack).
  d.push(frame.subarray(0, 20))
  t.is(d.next(), null)
  d.push(frame.subarray(20, 120))
  t.is(d.next(), null)
  t.true(d.allocatedBytes <= 64 * 1024, `holds ${d.allocatedBytes} bytes for 120 received`)
  // The frame still completes when the rest arrives, in pieces.
  for (let at = 120; at < frame.length; at += 1 * MiB) {
    d.push(frame.subarray(at, Math.min(frame.length, at + MiB)))
    const f = d.next()
    if (at + MiB >= frame.length) t.is(f?.payload.byteLength, 16 * MiB - 100)
    else t.is(f, null)
  }
  // A big assembly buffer is not kept once its frame is returned.
  d.push(Buffer.alloc(0))
  t.true(d.allocatedBytes <= 64 * 1024)
})

test('setMaxFrame: a small pre-auth cap refuses a large L at the header, then is raised', (t) => {
  const d = new FrameDecoder({ maxFrame: MAX_HELLO_PAYLOAD, role: 'server' })
  const big = encodeFrame(FrameType.DATA, 1n, Buffer.alloc(MAX_HELLO_PAYLOAD + 1))
  d.push(big.subarray(0, 20))
  const err = t.throws(() => d.next(), { instanceOf: ProtocolError })
  t.is(err.code, ErrorCode.FRAME_TOO_LARGE)
  const d2 = new FrameDecoder({ maxFrame: MAX_HELLO_PAYLOAD, role: 'server' })
  d2.setMaxFrame(MiB)
  d2.push(big)
  t.is(d2.next()?.payload.byteLength, MAX_HELLO_PAYLOAD + 1)
})

test('discard and trim free the buffers', (t) => {
  const d = new FrameDecoder({ maxFrame: MiB, role: 'server' })
  const frame = encodeFrame(FrameType.DATA, 1n, Buffer.alloc(10_000))
  d.push(frame.subarray(0, 5000))
  t.is(d.next(), null)
  t.true(d.allocatedBytes >= 5000)
  d.trim() // a partial frame is held: trim keeps it
  t.true(d.allocatedBytes >= 5000)
  d.discard(new ProtocolError(ErrorCode.OVERLOADED, 'shed'))
  t.is(d.allocatedBytes, 0)
  t.throws(() => d.push(frame), { instanceOf: ProtocolError })
})
