import test from 'ava'
import { encodeData, FrameDecoder } from '../src/index.ts'

// The engine decodes straight out of a shared ring and reuses that memory as soon as next()
// returns null, so the decoder must not keep pointing into a chunk it has finished with.
test('a chunk may be overwritten once next() returned null', (t) => {
  const frames = [1n, 2n, 3n].map((seq) =>
    encodeData(seq, { stream: 'telemetry', ts: 1, body: Buffer.alloc(100, Number(seq)) }),
  )
  const wire = Buffer.concat(frames)
  const decoder = new FrameDecoder({ maxFrame: 1 << 20, role: 'server' })
  const scratch = Buffer.alloc(37)
  const seen: bigint[] = []
  for (let at = 0; at < wire.length; at += scratch.length) {
    const n = wire.copy(scratch, 0, at, at + scratch.length)
    decoder.push(scratch.subarray(0, n))
    for (let f = decoder.next(); f !== null; f = decoder.next()) {
      seen.push(f.seq)
      t.is(f.payload.at(-1), Number(f.seq))
    }
    scratch.fill(0xee) // what a ring does to released space
  }
  t.deepEqual(seen, [1n, 2n, 3n])
})
