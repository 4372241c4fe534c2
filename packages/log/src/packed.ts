// Packed records: many records made on one thread and appended on another (a subscriber's derived
// records: made in its worker, appended by the engine's writer) as one buffer already in the log's
// record format, so no thread in between makes an object per record and the appending thread only
// checks the framing and writes a header. Light, like entry.ts: format.ts and entry.ts only.
import { AppendEncoder } from './entry-encoder.ts'
import { kMaxNameChars } from './entry-format.ts'
import { MI_ERR_LOG_APPEND_INVALID } from './errors.ts'
import { Writer } from './format.ts'
import { varintAt, varintEnd } from './varint-at.ts'

/**
 * `length` records in the encoded-append record format (entry.ts; index.ts "record"), each
 *
 *   varint streamIdx (into `streams`) · 0x00 (zigzag(ts − rts) = 0) · varint bodyLength · body
 *
 * Their ts is the receive time the appending thread gives the append (`encodePacked`'s `rts`):
 * whoever packs them does not know it. Plain data (strings, numbers, one Uint8Array): structured
 * clone copies `records` as one block, and its buffer can be transferred.
 */
export interface PackedRecords {
  /** The stream names the records index (each used at least once). */
  streams: string[]
  length: number
  /** Sum of the bodies' lengths. */
  bodyBytes: number
  records: Uint8Array
}

/** No records (what a batch that emitted nothing carries). */
export const kNoRecords: PackedRecords = Object.freeze({
  streams: [],
  length: 0,
  bodyBytes: 0,
  records: new Uint8Array(0),
}) as PackedRecords

/**
 * Packs records one by one into a reused buffer; `take()` hands them out in a buffer of their own.
 * A string body is written as UTF-8 straight into the buffer (no encoded copy of it first).
 */
export class RecordPacker {
  readonly #w = new Writer(64 * 1024)
  #streams: string[] = []
  readonly #index = new Map<string, number>()
  #last = ''
  #lastIdx = -1
  #count = 0
  #bodyBytes = 0

  get length(): number {
    return this.#count
  }

  add(stream: string, body: Uint8Array | string): void {
    const w = this.#w
    let idx = this.#lastIdx
    if (stream !== this.#last || idx < 0) {
      idx = this.#index.get(stream) ?? -1
      if (idx < 0) {
        idx = this.#streams.length
        this.#streams.push(stream)
        this.#index.set(stream, idx)
      }
      this.#last = stream
      this.#lastIdx = idx
    }
    w.varint(idx)
    w.u8(0)
    let len: number
    if (typeof body !== 'string') {
      len = body.length
      w.varint(len)
      w.bytes(body)
    } else {
      // UTF-8 takes between n and 3n bytes for n UTF-16 units: when both ends need a length varint
      // of the same width, write the text after one of that width and fill it in (one pass).
      const n = body.length
      const width = varintBytes(n)
      if (width === varintBytes(3 * n)) {
        w.ensure(10 + 3 * n) // varint() below must not grow (move) the buffer under the text
        len = w.buf.write(body, w.pos + width, 'utf8')
        w.varint(len)
      } else {
        len = Buffer.byteLength(body, 'utf8')
        w.varint(len)
        w.ensure(len)
        w.buf.write(body, w.pos, 'utf8')
      }
      w.pos += len
    }
    this.#count++
    this.#bodyBytes += len
  }

  /** Everything added since the last take(), in a fresh ArrayBuffer of its own (transferable). */
  take(): PackedRecords {
    if (this.#count === 0) return kNoRecords
    const w = this.#w
    const records = new Uint8Array(w.pos)
    records.set(w.buf.subarray(0, w.pos))
    const out: PackedRecords = {
      streams: this.#streams,
      length: this.#count,
      bodyBytes: this.#bodyBytes,
      records,
    }
    this.reset()
    return out
  }

  /** Drop what was added. */
  reset(): void {
    this.#w.pos = 0
    this.#streams = []
    this.#index.clear()
    this.#last = ''
    this.#lastIdx = -1
    this.#count = 0
    this.#bodyBytes = 0
  }
}

function varintBytes(n: number): number {
  let bytes = 1
  while (n >= 0x80) {
    n = Math.floor(n / 0x80)
    bytes++
  }
  return bytes
}

/**
 * Throws MI_ERR_LOG_APPEND_INVALID unless `p` is well formed: the records end where `records`
 * ends, there are `length` of them, their bodies add up to `bodyBytes`, each names a stream of
 * `streams` and has ts delta 0, and the names are what append() accepts. The appending thread
 * runs this: it must not write what readers would misparse, whoever packed it.
 */
export function checkPacked(p: PackedRecords): void {
  const fail = (why: string): never => {
    throw new MI_ERR_LOG_APPEND_INVALID(`malformed packed records (${why})`)
  }
  const { streams, records: b } = p
  if (!Array.isArray(streams) || !(b instanceof Uint8Array)) fail('shape')
  const k = streams.length
  if (!Number.isSafeInteger(p.length) || p.length < 1 || k < 1 || k > p.length) fail('counts')
  for (const s of streams) {
    if (typeof s !== 'string' || s.length === 0 || s.length > kMaxNameChars) fail('stream name')
  }
  let pos = 0
  let bodies = 0
  const end = b.length
  for (let i = 0; i < p.length; i++) {
    const idx = varint(b, pos)
    pos = at
    if (idx >= k || pos >= end || b[pos] !== 0) fail(`record ${i}`)
    const len = varint(b, pos + 1)
    pos = at + len
    if (pos > end) fail(`record ${i} truncated`)
    bodies += len
  }
  if (pos !== end) fail('trailing bytes')
  if (bodies !== p.bodyBytes) fail('bodyBytes')
}

/** The records of `p` as objects, bodies as views into `p.records`: for hosts that want them so. */
export function unpackRecords(p: PackedRecords): { stream: string; body: Uint8Array }[] {
  const out = new Array<{ stream: string; body: Uint8Array }>(p.length)
  const b = p.records
  let pos = 0
  for (let i = 0; i < p.length; i++) {
    const stream = p.streams[varint(b, pos)]!
    const len = varint(b, at + 1)
    out[i] = { stream, body: b.subarray(at, at + len) }
    pos = at + len
  }
  return out
}

/**
 * Encoded appends of packed records, for `log.appendEncoded`: `p` is checked, a header written and
 * the records copied after it, in a buffer reused from call to call. A fresh buffer per append
 * (Buffer.concat) cost the appending thread's heap an old-space GC every few dozen appends.
 */
export class PackedAppendEncoder {
  readonly #encoder = new AppendEncoder()
  readonly #w = new Writer(64 * 1024)

  /** Valid until the next call. */
  encode(module: string, core: string, seq: bigint, rts: number, p: PackedRecords): Uint8Array {
    checkPacked(p)
    const [header, records] = this.#encoder.finishPacked(module, core, seq, rts, p)
    const w = this.#w
    w.pos = 0
    w.bytes(header)
    w.bytes(records)
    return w.buf.subarray(0, w.pos)
  }
}

// A varint read over (buffer, offset), the end position left in `at` (bad ones fail every check).
let at = 0
function varint(b: Uint8Array, p: number): number {
  const v = varintAt(b, p)
  at = varintEnd.end
  return v
}
