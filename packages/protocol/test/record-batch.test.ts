import { zstdCompressSync } from 'node:zlib'
import test from 'ava'
import {
  decodeBatch,
  decodeRecord,
  ErrorCode,
  encodeBatch,
  encodeRecord,
  Flags,
  ProtocolError,
} from '../src/index.ts'

const BAD_PAYLOAD = { instanceOf: ProtocolError, code: ErrorCode.BAD_PAYLOAD } as never

function rawRecord(name: Buffer, tsHex = '0000000000000000', body = ''): Buffer {
  return Buffer.concat([Buffer.from([name.length]), name, Buffer.from(tsHex, 'hex'), Buffer.from(body)])
}

function rawBatch(entries: Buffer[], count = entries.length, trailing = Buffer.alloc(0)): Buffer {
  const parts: Buffer[] = [Buffer.alloc(4)]
  parts[0]!.writeUInt32BE(count)
  for (const e of entries) {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(e.length)
    parts.push(len, e)
  }
  parts.push(trailing)
  return Buffer.concat(parts)
}

test('record round trip with empty body, ts 0 and max safe ts', (t) => {
  for (const ts of [0, 1, Number.MAX_SAFE_INTEGER]) {
    const r = decodeRecord(encodeRecord({ stream: 'a', ts, body: new Uint8Array(0) }))
    t.is(r.ts, ts)
    t.is(r.stream, 'a')
    t.is(r.body.byteLength, 0)
  }
})

test('every u64 ts decodes exactly: a number up to 2^53-1, a bigint above (PROTOCOL.md: u64)', (t) => {
  t.is(decodeRecord(rawRecord(Buffer.from('s'), '001fffffffffffff')).ts, Number.MAX_SAFE_INTEGER)
  t.is(decodeRecord(rawRecord(Buffer.from('s'), '0020000000000000')).ts, 2n ** 53n)
  t.is(decodeRecord(rawRecord(Buffer.from('s'), '8000000000000000')).ts, 2n ** 63n)
  t.is(decodeRecord(rawRecord(Buffer.from('s'), 'ffffffffffffffff')).ts, 2n ** 64n - 1n)
  for (const ts of [2n ** 53n, 2n ** 63n, 2n ** 64n - 1n])
    t.is(decodeRecord(encodeRecord({ stream: 's', ts, body: 'x' })).ts, ts)
  // A bigint that fits decodes as the number it is: one representation per value.
  t.is(decodeRecord(encodeRecord({ stream: 's', ts: 5n, body: '' })).ts, 5)
})

test('ts outside u64, or an unsafe or fractional number, is BAD_PAYLOAD on encode', (t) => {
  t.throws(() => encodeRecord({ stream: 's', ts: 2 ** 53, body: '' }), BAD_PAYLOAD)
  t.throws(() => encodeRecord({ stream: 's', ts: 2n ** 64n, body: '' }), BAD_PAYLOAD)
  t.throws(() => encodeRecord({ stream: 's', ts: -1n, body: '' }), BAD_PAYLOAD)
  t.throws(() => encodeRecord({ stream: 's', ts: -1, body: '' }), BAD_PAYLOAD)
  t.throws(() => encodeRecord({ stream: 's', ts: 1.5, body: '' }), BAD_PAYLOAD)
})

test('stream name rules: length 1..255, [A-Za-z0-9._-], no leading dot', (t) => {
  t.is(decodeRecord(rawRecord(Buffer.from('x'.repeat(255)))).stream.length, 255)
  t.is(decodeRecord(rawRecord(Buffer.from('a.b_c-D9'))).stream, 'a.b_c-D9')
  t.is(decodeRecord(rawRecord(Buffer.from('-x'))).stream, '-x')
  for (const bad of ['', '.hidden', 'a b', 'a/b', 'ü', 'a:b', 'a\0']) {
    t.throws(() => decodeRecord(rawRecord(Buffer.from(bad, 'utf8'))), BAD_PAYLOAD, JSON.stringify(bad))
    t.throws(() => encodeRecord({ stream: bad, body: '' }), BAD_PAYLOAD, JSON.stringify(bad))
  }
  t.throws(() => encodeRecord({ stream: 'x'.repeat(256), body: '' }), BAD_PAYLOAD)
})

test('short records are BAD_PAYLOAD', (t) => {
  t.throws(() => decodeRecord(Buffer.alloc(0)), BAD_PAYLOAD)
  t.throws(() => decodeRecord(Buffer.from([3, 0x61, 0x62])), BAD_PAYLOAD)
  t.throws(() => decodeRecord(rawRecord(Buffer.from('abc')).subarray(0, 11)), BAD_PAYLOAD)
})

test('batch round trip, plain and compressed, across streams', (t) => {
  const recs = [
    { stream: 'a', ts: 1, body: Buffer.from('one') },
    { stream: 'b.c', ts: 2, body: Buffer.alloc(0) },
    { stream: 'a', ts: 0, body: Buffer.alloc(1000, 1) },
  ]
  for (const compress of [false, true]) {
    const { payload, flags } = encodeBatch(recs, { compress })
    t.is(flags, compress ? Flags.COMPRESSED : 0)
    const out = decodeBatch(payload, flags, 1 << 20).map((r) => ({ ...r, body: Buffer.from(r.body) }))
    t.deepEqual(out, recs)
  }
})

test('batch count: N=0 and N>65535 are BAD_PAYLOAD; 65535 is fine', (t) => {
  t.throws(() => decodeBatch(rawBatch([]), 0, 1 << 20), BAD_PAYLOAD)
  t.throws(() => encodeBatch([]), BAD_PAYLOAD)
  t.throws(() => decodeBatch(rawBatch([], 65536), 0, 1 << 24), BAD_PAYLOAD)
  const r = rawRecord(Buffer.from('s'))
  const max = rawBatch(Array.from({ length: 65535 }, () => r))
  t.is(decodeBatch(max, 0, max.length).length, 65535)
  t.throws(() => encodeBatch(Array.from({ length: 65536 }, () => ({ stream: 's', body: '' }))), BAD_PAYLOAD)
})

test('batch: trailing bytes, truncation, count larger than entries, bad inner record', (t) => {
  const r = rawRecord(Buffer.from('s'), undefined, 'b')
  t.is(decodeBatch(rawBatch([r, r]), 0, 4096).length, 2)
  t.throws(() => decodeBatch(rawBatch([r, r], 2, Buffer.from([0])), 0, 4096), BAD_PAYLOAD)
  t.throws(() => decodeBatch(rawBatch([r, r], 3), 0, 4096), BAD_PAYLOAD)
  t.throws(() => decodeBatch(rawBatch([r, r], 1), 0, 4096), BAD_PAYLOAD)
  t.throws(() => decodeBatch(rawBatch([r, rawRecord(Buffer.from('.x'))]), 0, 4096), BAD_PAYLOAD)
  t.throws(() => decodeBatch(rawBatch([r]).subarray(0, 10), 0, 4096), BAD_PAYLOAD)
  t.throws(() => decodeBatch(Buffer.from([0, 0]), 0, 4096), BAD_PAYLOAD)
})

test('zstd: bomb over max_frame, garbage, and exactly max_frame', (t) => {
  const r = rawRecord(Buffer.from('s'), undefined, 'x'.repeat(2000))
  const plain = rawBatch(Array.from({ length: 500 }, () => r)) // ~1 MB of very compressible data
  const bomb = zstdCompressSync(plain)
  t.true(bomb.length < 10_000)
  t.throws(() => decodeBatch(bomb, Flags.COMPRESSED, 64 * 1024), BAD_PAYLOAD)
  t.is(decodeBatch(bomb, Flags.COMPRESSED, plain.length).length, 500)
  t.throws(() => decodeBatch(bomb, Flags.COMPRESSED, plain.length - 1), BAD_PAYLOAD)
  t.throws(() => decodeBatch(Buffer.from('not zstd at all'), Flags.COMPRESSED, 4096), BAD_PAYLOAD)
  t.throws(() => decodeBatch(bomb.subarray(0, bomb.length - 3), Flags.COMPRESSED, 1 << 21), BAD_PAYLOAD)
})

test('the MAC flag on a BATCH does not change its decoding', (t) => {
  const { payload } = encodeBatch([{ stream: 's', body: 'x' }])
  t.is(decodeBatch(payload, Flags.MAC, 4096).length, 1)
})
