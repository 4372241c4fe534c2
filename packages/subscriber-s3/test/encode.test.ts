// The direct NDJSON writer must produce exactly what JSON.stringify(recordToJson(r)) does (the
// project's one record shape), for every body format and awkward strings; and an object must
// decompress to the plain encoding, in one zstd frame, whatever the reused encode buffer held.
import { randomBytes } from 'node:crypto'
import { recordToJson, type SubscriberRecord } from '@module-ingest/subscriber-sdk'
import test from 'ava'
import { encodeObject, encodeRecords } from '../src/encode.ts'
import { decodeRecords, decompress } from '../src/index.ts'

const kNames = ['bench', 'telemetry.gps', 'ünï "quoted" \\ back', 'ctl\u0001\u001f\n', '😀/x', '']

function records(n: number): SubscriberRecord[] {
  const out: SubscriberRecord[] = []
  for (let i = 0; i < n; i++) {
    const kind = i % 5
    const body =
      kind === 0
        ? Buffer.from(`{"temp":${i},"s":"é\\"\\u0000"}`)
        : kind === 1
          ? randomBytes(i % 300)
          : kind === 2
            ? Buffer.from('\u0001\u007f control\ttab\r\n')
            : kind === 3
              ? Buffer.alloc(0)
              : Buffer.from('x'.repeat(2000 + (i % 7)))
    out.push({
      lsn: 1 + i * 3,
      stream: kNames[i % kNames.length]!,
      module: kNames[(i >> 1) % kNames.length]!,
      core: i % 4 === 0 ? '' : kNames[(i >> 2) % kNames.length]!,
      seq: i % 9 === 0 ? 2n ** 64n - 1n : BigInt(i),
      ts: 1_796_548_800_000_000 + i,
      rts: 1_796_548_800_000_000 + 2 * i,
      body,
    })
  }
  return out
}

test('NDJSON lines equal JSON.stringify(recordToJson(r)) for every body format', (t) => {
  const recs = records(500)
  for (const body of ['base64', 'hex', 'text', 'auto'] as const) {
    const want = recs.map((r) => `${JSON.stringify(recordToJson(r, body))}\n`).join('')
    t.is(encodeRecords(recs, 'ndjson', body).toString('utf8'), want, body)
    t.is(
      encodeRecords(recs, 'ndjson', body, 7, 93).toString('utf8'),
      `${want.split('\n').slice(7, 93).join('\n')}\n`,
    )
  }
})

test('an object decompresses to the plain encoding, in one frame or member', async (t) => {
  const recs = records(3000) // > 1 MiB of bodies
  for (const compression of ['zstd', 'gzip', 'none'] as const) {
    for (const format of ['ndjson', 'msgpack'] as const) {
      const plain = encodeRecords(recs, format, 'base64')
      const stored = encodeObject(recs, { format, body: 'base64', compression })
      // Node's zstdDecompress stops after the first frame: the whole object coming back is one frame.
      const raw = await decompress(stored, compression)
      t.true(raw.equals(plain), `${format}+${compression}`)
      t.is(decodeRecords(raw, format).length, recs.length)
    }
  }
})

test('objects encoded back to back do not share bytes (the encode buffer is reused)', async (t) => {
  // Bodies of 0.5–2 KiB, ~6 MiB, then a smaller object into the grown buffer, then an uncompressed
  // one (its bytes are the PUT body: never the reused buffer) and one more over it.
  const big = records(6000).map((r, i) => ({ ...r, body: randomBytes(512 + ((i * 37) % 1536)) }))
  const small = records(700)
  for (const compression of ['zstd', 'gzip'] as const) {
    const o = { format: 'ndjson', body: 'base64', compression } as const
    const a = encodeObject(big, o)
    const b = encodeObject(small, o)
    const plain = encodeObject(small, { ...o, compression: 'none' })
    const want = Buffer.from(plain)
    encodeObject(big, o)
    t.true((await decompress(a, compression)).equals(encodeRecords(big, 'ndjson', 'base64')), compression)
    t.true((await decompress(b, compression)).equals(want), compression)
    t.true(plain.equals(want), `uncompressed after ${compression}`)
  }
})
