/**
 * Object bodies.
 *
 * - `ndjson`: one JSON object per line, the shape `module-ingest tail` and `recover-dump dump`
 *   print (`recordToJson` from @module-ingest/subscriber-sdk): `{lsn, stream, module, core, seq, ts, rts,
 *   bodyEncoding, body}`, seq as a decimal string, ts/rts in µs since the epoch (ts a decimal
 *   string above 2^53-1).
 * - `msgpack`: length-prefixed frames, `u32be(length) msgpack(map)`, with the same field names;
 *   `seq` is a uint64 (and `ts` above 2^53-1), `body` a bin (no base64). Any msgpack reader can decode a frame.
 *
 * Then zstd (level 3 by default) or gzip (6), through node:zlib, off the event loop.
 */
import { promisify } from 'node:util'
import { constants, gunzip, gzip, zstdCompress, zstdDecompress } from 'node:zlib'
import { type BodyFormat, recordToJson, type SubscriberRecord } from '@module-ingest/subscriber-sdk'
import { Packr, Unpackr } from 'msgpackr'

// Plain msgpack maps, no msgpackr record extension: readable by any msgpack library.
const packr = new Packr({ useRecords: false, variableMapSize: true })
const unpackr = new Unpackr({ useRecords: false, int64AsType: 'bigint' })

const gzipAsync = promisify(gzip)
const gunzipAsync = promisify(gunzip)
const zstdAsync = promisify(zstdCompress)
const unzstdAsync = promisify(zstdDecompress)

export type ObjectFormat = 'ndjson' | 'msgpack'
export type Compression = 'zstd' | 'gzip' | 'none'

/** Upper estimate of one record's encoded size, to split objects before encoding them. */
export function estimateBytes(r: SubscriberRecord, format: ObjectFormat, body: BodyFormat): number {
  const b = r.body.byteLength
  const bodyBytes =
    format === 'msgpack' ? b : body === 'hex' ? 2 * b : body === 'text' ? b : Math.ceil(b / 3) * 4
  return bodyBytes + r.stream.length + r.module.length + r.core.length + 160
}

export function encodeRecords(
  records: readonly SubscriberRecord[],
  format: ObjectFormat,
  body: BodyFormat,
): Buffer {
  if (format === 'ndjson') {
    let out = ''
    for (const r of records) out += `${JSON.stringify(recordToJson(r, body))}\n`
    return Buffer.from(out, 'utf8')
  }
  const frames: Buffer[] = []
  for (const r of records) {
    const packed = packr.pack({
      lsn: r.lsn,
      stream: r.stream,
      module: r.module,
      core: r.core,
      seq: r.seq,
      ts: r.ts,
      rts: r.rts,
      body: Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength),
    })
    const len = Buffer.allocUnsafe(4)
    len.writeUInt32BE(packed.length)
    frames.push(len, Buffer.from(packed))
  }
  return Buffer.concat(frames)
}

export async function compress(raw: Buffer, compression: Compression, level?: number): Promise<Buffer> {
  if (compression === 'none') return raw
  if (compression === 'gzip') return gzipAsync(raw, { level: level ?? 6 })
  return zstdAsync(raw, { params: { [constants.ZSTD_c_compressionLevel]: level ?? 3 } })
}

// --- reading objects back (tests, tools) -------------------------------------------------------

export async function decompress(data: Uint8Array, compression: Compression): Promise<Buffer> {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  if (compression === 'none') return buf
  return compression === 'gzip' ? gunzipAsync(buf) : unzstdAsync(buf)
}

/** A decoded record of either format: NDJSON's shape (seq as a string, body as in the object). */
export interface DecodedRecord {
  lsn: number
  stream: string
  module: string
  core: string
  seq: string
  ts: number
  rts: number
  bodyEncoding: string
  body: string
}

/** Decode an uncompressed object body into records, whatever its format. */
export function decodeRecords(raw: Buffer, format: ObjectFormat): DecodedRecord[] {
  if (format === 'ndjson') {
    return raw
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as DecodedRecord)
  }
  const out: DecodedRecord[] = []
  for (let at = 0; at < raw.length; ) {
    const len = raw.readUInt32BE(at)
    const m = unpackr.unpack(raw.subarray(at + 4, at + 4 + len)) as Record<string, unknown>
    at += 4 + len
    out.push({
      lsn: m.lsn as number,
      stream: m.stream as string,
      module: m.module as string,
      core: m.core as string,
      seq: String(m.seq),
      ts: m.ts as number,
      rts: m.rts as number,
      bodyEncoding: 'base64',
      body: Buffer.from(m.body as Uint8Array).toString('base64'),
    })
  }
  return out
}
