// A COMPRESSED BATCH is exactly one zstd frame (issue 11.14): trailing bytes, a second frame or a
// skippable frame after it are BAD_PAYLOAD, like every other malformation.
import { zstdCompressSync } from 'node:zlib'
import test from 'ava'
import { zstdFrameEnd } from '../src/batch.ts'
import { decodeBatch, ErrorCode, encodeBatch, Flags, ProtocolError } from '../src/index.ts'

const records = [
  { stream: 'a', ts: 1, body: 'one' },
  { stream: 'b', ts: 2, body: 'two'.repeat(100) },
]

function codeOf(payload: Uint8Array): number {
  try {
    decodeBatch(payload, Flags.COMPRESSED, 1 << 20)
    return 0
  } catch (err) {
    return err instanceof ProtocolError ? err.code : -1
  }
}

test('one zstd frame decodes; its end is found exactly, with and without checksum and sizes', (t) => {
  const { payload } = encodeBatch(records, { compress: true })
  t.is(codeOf(payload), 0)
  t.is(zstdFrameEnd(payload), payload.byteLength)
  const raw = encodeBatch(records).payload
  for (const level of [1, 3, 19]) {
    const z = zstdCompressSync(raw, { params: { 100: level } })
    t.is(zstdFrameEnd(z), z.byteLength)
  }
  const empty = zstdCompressSync(Buffer.alloc(0))
  t.is(zstdFrameEnd(empty), empty.byteLength)
  const big = zstdCompressSync(Buffer.alloc(600_000, 7)) // several blocks
  t.is(zstdFrameEnd(big), big.byteLength)
})

test('trailing bytes, a second frame, a skippable frame, truncation: BAD_PAYLOAD', (t) => {
  const { payload } = encodeBatch(records, { compress: true })
  t.is(codeOf(Buffer.concat([payload, Buffer.from([0])])), ErrorCode.BAD_PAYLOAD)
  t.is(codeOf(Buffer.concat([payload, payload])), ErrorCode.BAD_PAYLOAD)
  t.is(codeOf(Buffer.concat([payload, zstdCompressSync(Buffer.alloc(0))])), ErrorCode.BAD_PAYLOAD)
  const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4])
  t.is(codeOf(Buffer.concat([payload, skippable])), ErrorCode.BAD_PAYLOAD)
  t.is(codeOf(Buffer.concat([skippable, payload])), ErrorCode.BAD_PAYLOAD)
  t.is(codeOf(payload.subarray(0, payload.length - 1)), ErrorCode.BAD_PAYLOAD)
  t.is(codeOf(Buffer.from('not zstd at all')), ErrorCode.BAD_PAYLOAD)
})
