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
 * Then zstd (level 1 by default, see kZstdDefaultLevel) or gzip (6), on the calling thread
 * (encodeObject).
 */

import { promisify } from 'node:util'
import { constants, gunzip, gzipSync, zstdCompressSync, zstdDecompress } from 'node:zlib'
import { type BodyFormat, encodeBody, type SubscriberRecord } from '@module-ingest/subscriber-sdk'
import { Packr, Unpackr } from 'msgpackr'

// Plain msgpack maps, no msgpackr record extension: readable by any msgpack library.
const packr = new Packr({ useRecords: false, variableMapSize: true })
const unpackr = new Unpackr({ useRecords: false, int64AsType: 'bigint' })

const gunzipAsync = promisify(gunzip)
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

/**
 * Records `from`…`to` (exclusive) of `records`, encoded. NDJSON lines are byte for byte
 * `JSON.stringify(recordToJson(r, body)) + '\n'`, but built directly: base64 and hex bodies need no
 * JSON escaping, so the body string is never scanned again, and each line is written into one
 * buffer instead of a string of the whole object (50–100 MB of 1 KiB bodies per CPU-second with
 * recordToJson + JSON.stringify, ~147 this way: bench/pieces.bench.ts). NDJSON is written into
 * `scratch` when it is large enough (encodeObject's reused buffer).
 */
export function encodeRecords(
  records: readonly SubscriberRecord[],
  format: ObjectFormat,
  body: BodyFormat,
  from = 0,
  to = records.length,
  scratch?: Buffer,
): Buffer {
  return format === 'ndjson'
    ? encodeNdjson(records, body, from, to, scratch)
    : encodeMsgpack(records, from, to)
}

function encodeNdjson(
  records: readonly SubscriberRecord[],
  body: BodyFormat,
  from: number,
  to: number,
  scratch: Buffer | undefined,
): Buffer {
  let size = 0
  for (let i = from; i < to; i++) size += estimateBytes(records[i]!, 'ndjson', body)
  let out = scratch !== undefined && scratch.length >= size ? scratch : Buffer.allocUnsafeSlow(size)
  let at = 0
  // Consecutive records mostly share stream, module and core: quote each once per run.
  let stream = ''
  let module = ''
  let core = ''
  let names = '"stream":"","module":"","core":""'
  for (let i = from; i < to; i++) {
    const r = records[i]!
    if (r.stream !== stream || r.module !== module || r.core !== core) {
      ;({ stream, module, core } = r)
      names = `"stream":${JSON.stringify(stream)},"module":${JSON.stringify(module)},"core":${JSON.stringify(core)}`
    }
    const head = `{"lsn":${r.lsn},${names},"seq":"${r.seq}","ts":${r.ts},"rts":${r.rts},"bodyEncoding":"`
    // base64 and hex are ASCII: written as latin1 pieces, never joined into the line.
    const raw = Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength)
    const ascii = body === 'base64' ? raw.toString('base64') : body === 'hex' ? raw.toString('hex') : null
    const tail = ascii === null ? quotedBody(r.body, body) : ''
    // utf8 needs at most 3 bytes per UTF-16 unit; the estimate covers ASCII lines, text may not.
    const need = (head.length + tail.length) * 3 + (ascii === null ? 0 : ascii.length + 20)
    if (at + need > out.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(out.length * 2, at + need))
      out.copy(grown, 0, 0, at)
      out = grown
    }
    at += out.write(head, at, 'utf8')
    if (ascii === null) at += out.write(tail, at, 'utf8')
    else {
      at += out.write(body, at, 'latin1')
      at += out.write('","body":"', at, 'latin1')
      at += out.write(ascii, at, 'latin1')
      at += out.write('"}\n', at, 'latin1')
    }
  }
  return out.subarray(0, at)
}

function quotedBody(bytes: Uint8Array, format: BodyFormat): string {
  const b = encodeBody(bytes, format)
  return `${b.encoding}","body":${JSON.stringify(b.body)}}\n`
}

function encodeMsgpack(records: readonly SubscriberRecord[], from: number, to: number): Buffer {
  const frames: Buffer[] = []
  for (let i = from; i < to; i++) {
    const r = records[i]!
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
    frames.push(len, packed)
  }
  return Buffer.concat(frames)
}

/**
 * zstd level 1 by default: a catch-up after an outage is bounded by CPU, and level 1 costs about
 * two thirds of level 3 per MB (an explicit `compressionLevel: 1` is the same). At level 1 the minimum match is 5 bytes instead of
 * zstd's 6: on NDJSON with base64 bodies level 1 otherwise loses much of its ratio (1 KiB JSON
 * records: 1.21 instead of 2.65 bodies/object at level 3; with 5: 2.65, and 2.46 vs 2.61 on
 * sensor-like JSON), and on msgpack and text it gains a little. Measured: README "Performance".
 */
const kZstdDefaultLevel = 1

function zstdParams(level: number): Record<number, number> {
  const params = { [constants.ZSTD_c_compressionLevel]: level }
  if (level === 1) params[constants.ZSTD_c_minMatch] = 5
  return params
}

/**
 * Output buffers of zstd/gzip: with zlib's default 16 KiB an object's output came in ~25 pieces per
 * MiB, each a call into the binding (and, when this ran on the thread pool, a job and a callback
 * into JS), about a fifth of the CPU per MB (bench/pieces.bench.ts).
 */
const kChunkBytes = 1 << 20

/**
 * The encoded object before compression, reused from object to object (it grows to the largest
 * object's encoded size, ~1.4 × maxObjectBytes for NDJSON + base64): a fresh buffer of that size
 * per object is external memory that makes V8 run full GCs. encodeObject is synchronous, so two
 * objects never share it at once, and compression copies out of it.
 */
let scratch: Buffer | undefined

/**
 * One object's body: records encoded into one buffer, then compressed in one synchronous call
 * (one zstd frame or one gzip member) on the calling thread.
 *
 * Synchronous on purpose. Through node:zlib's streams the compression ran on libuv's thread pool:
 * threads at nice 0 shared by the whole process (the log's fdatasyncs use that pool too), so the
 * heaviest part of a catch-up escaped the uploader thread's `nice`. Here it runs on the
 * uploader's own thread, at its priority, and costs less per MB (no thread-pool hop).
 * The price: the thread does nothing else meanwhile (encode + compress of a 16 MiB object of 1 KiB
 * JSON at zstd 1: ~60 ms of CPU, ~180 ms with noisy bodies; high levels and gzip take longer),
 * which maxObjectBytes bounds.
 * Slices compressed one by one would keep the thread responsive, but as concatenated frames:
 * valid zstd, yet Node's own zstdDecompress (24.x) and several other readers stop after the
 * first frame and silently drop the rest.
 */
export function encodeObject(
  records: readonly SubscriberRecord[],
  o: {
    format: ObjectFormat
    body: BodyFormat
    compression: Compression
    compressionLevel?: number | undefined
  },
): Buffer {
  // Uncompressed, the encoded bytes are the body: never the reused buffer (a PUT may still read it).
  if (o.compression === 'none') return encodeRecords(records, o.format, o.body)
  const raw = encodeRecords(records, o.format, o.body, 0, records.length, scratch)
  // NDJSON is written into `scratch` or a buffer of its own (never Node's shared pool): keep it.
  if (o.format === 'ndjson') scratch = Buffer.from(raw.buffer, 0, raw.buffer.byteLength)
  return o.compression === 'gzip'
    ? gzipSync(raw, { level: o.compressionLevel ?? 6, chunkSize: kChunkBytes })
    : zstdCompressSync(raw, {
        chunkSize: kChunkBytes,
        params: zstdParams(o.compressionLevel ?? kZstdDefaultLevel),
      })
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
