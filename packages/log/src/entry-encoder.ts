// The parser's side of an encoded append (entry-format.ts): AppendEncoder builds one per frame
// or batch, reusing its buffers. Imported by parser threads: format.ts, node:zlib and the layout only.
import { crc32 } from 'node:zlib'
import { kEncodedVersion, kFixedBytes, kFlagCrc, kFlagTs64, kParserCrcBytes } from './entry-format.ts'
import { MI_ERR_LOG_APPEND_INVALID } from './errors.ts'
import { Writer } from './format.ts'
import type { PackedRecords } from './packed.ts'

const kMaxSafeBig = BigInt(Number.MAX_SAFE_INTEGER)

interface EncodeRecord {
  stream: string
  ts: number | bigint
  body: Uint8Array
}

/**
 * Builds encoded appends, reusing its buffers (one per thread): begin(), add() per record,
 * finish(). The views finish() returns are valid until the next begin().
 */
export class AppendEncoder {
  #rec = new Writer(64 * 1024)
  readonly #head = new Writer(1024)
  /** Stream names of this append: the first #nStreams entries (the array is reused). */
  #streams: string[] = []
  #nStreams = 0
  #index = new Map<string, number>()
  /** UTF-8 of stream names seen lately (telemetry repeats a handful millions of times). */
  #nameBytes = new Map<string, Uint8Array>()
  #rts = 0
  #firstTs = 0
  #count = 0
  #bodyBytes = 0
  #ts64 = false
  readonly #out: [Uint8Array, Uint8Array] = [new Uint8Array(0), new Uint8Array(0)]
  /** The encoded module · core of the last finish() (a session's frames repeat them). */
  #lastModule: Uint8Array | string | undefined
  #lastCore: Uint8Array | string | undefined
  #prefix = new Writer(64)
  /** A DataView over #head's buffer (`#dvFor`), remade when the writer grows into a new one. */
  #dv: DataView = new DataView(new ArrayBuffer(8))
  #dvFor: Buffer | undefined
  readonly #recView: CachedView = { of: undefined, view: new Uint8Array(0) }
  readonly #headView: CachedView = { of: undefined, view: new Uint8Array(0) }

  begin(rts: number): void {
    this.#rec.pos = 0
    this.#nStreams = 0
    if (this.#index.size > 0) this.#index.clear()
    this.#rts = rts
    this.#count = 0
    this.#bodyBytes = 0
    this.#ts64 = false
  }

  /**
   * `ts` is a safe integer number, or a bigint (a u64 from the wire above 2^53-1: the
   * protocol decoder's DecodedRecord.ts). Only the bigint path leaves plain number arithmetic.
   */
  add(stream: string, ts: number | bigint, body: Uint8Array): void {
    // Batches use a handful of names: a short scan beats a Map until there are many.
    const s = this.#streams
    const n = this.#nStreams
    let idx = -1
    if (n <= 8) {
      for (let i = 0; i < n; i++)
        if (s[i] === stream) {
          idx = i
          break
        }
    } else idx = this.#index.get(stream) ?? -1
    if (idx < 0) {
      idx = n
      s[this.#nStreams++] = stream
      if (n + 1 === 9) for (let i = 0; i <= n; i++) this.#index.set(s[i]!, i)
      else if (n + 1 > 9) this.#index.set(stream, idx)
    }
    const w = this.#rec
    w.varint(idx)
    if (typeof ts === 'number') {
      if (this.#count === 0) this.#firstTs = ts
      w.zigzag(ts - this.#rts)
    } else this.#addBig(ts)
    w.varint(body.length)
    w.bytes(body)
    this.#count++
    this.#bodyBytes += body.length
  }

  #addBig(ts: bigint): void {
    // A bigint that fits is stored as a number would be: the flag marks only real need.
    if (ts >= -kMaxSafeBig && ts <= kMaxSafeBig) {
      if (this.#count === 0) this.#firstTs = Number(ts)
      this.#rec.zigzag(Number(ts) - this.#rts)
      return
    }
    if (ts < 0n || ts > 0xffff_ffff_ffff_ffffn) throw new MI_ERR_LOG_APPEND_INVALID('ts must fit a u64')
    // firstTs is a summary (segment index, stats) kept as f64: the nearest double will do.
    if (this.#count === 0) this.#firstTs = Number(ts)
    this.#rec.zigzagBig(ts, this.#rts)
    this.#ts64 = true
  }

  /**
   * [header, records]: copy both, in order, to form the encoded append. The array and both views
   * are reused: valid until the next begin(). `module`/`core` Buffers are recognised by identity
   * (a session's own): do not change one in place between calls.
   */
  finish(module: Uint8Array | string, core: Uint8Array | string, seq: bigint): [Uint8Array, Uint8Array] {
    // This runs once per frame on a parser: no Buffer methods or views beyond the two returned
    // (cached while their length repeats, as it does for a session's DATA frames).
    return this.#finish(module, core, seq, view(this.#rec, this.#recView))
  }

  /**
   * [header, records] for records packed elsewhere (packed.ts: every ts is `rts`), instead of
   * add()ed here; `records` is `p.records` itself. The caller checked `p` (checkPacked).
   */
  finishPacked(
    module: string,
    core: string,
    seq: bigint,
    rts: number,
    p: PackedRecords,
  ): [Uint8Array, Uint8Array] {
    this.begin(rts)
    this.#firstTs = rts
    this.#count = p.length
    this.#bodyBytes = p.bodyBytes
    for (const s of p.streams) this.#streams[this.#nStreams++] = s
    return this.#finish(module, core, seq, p.records)
  }

  #finish(
    module: Uint8Array | string,
    core: Uint8Array | string,
    seq: bigint,
    records: Uint8Array,
  ): [Uint8Array, Uint8Array] {
    const h = this.#head
    h.pos = 0
    h.ensure(kFixedBytes)
    if (this.#dvFor !== h.buf) {
      this.#dvFor = h.buf
      this.#dv = new DataView(h.buf.buffer, h.buf.byteOffset, h.buf.length)
    }
    const dv = this.#dv
    const crc = records.length >= kParserCrcBytes
    dv.setUint8(0, kEncodedVersion)
    dv.setUint8(1, (crc ? kFlagCrc : 0) | (this.#ts64 ? kFlagTs64 : 0))
    dv.setFloat64(2, this.#rts, true)
    dv.setFloat64(10, this.#firstTs, true)
    // Two u32 from one BigInt→Number conversion: BigInt arithmetic costs more per frame.
    const n = Number(seq)
    if (n <= Number.MAX_SAFE_INTEGER) {
      dv.setUint32(18, n % 0x1_0000_0000, true)
      dv.setUint32(22, Math.floor(n / 0x1_0000_0000), true)
    } else dv.setBigUint64(18, seq, true)
    dv.setUint32(26, this.#count, true)
    dv.setUint32(30, crc ? crc32(records) : 0, true)
    dv.setFloat64(34, this.#bodyBytes, true)
    h.pos = kFixedBytes
    if (module !== this.#lastModule || core !== this.#lastCore) {
      this.#prefix.pos = 0
      this.#name(this.#prefix, module)
      this.#name(this.#prefix, core)
      this.#lastModule = module
      this.#lastCore = core
    }
    const pn = this.#prefix.pos
    h.ensure(pn)
    const pb = this.#prefix.buf
    const hb = h.buf
    for (let i = 0; i < pn; i++) hb[h.pos + i] = pb[i]!
    h.pos += pn
    h.varint(this.#nStreams)
    for (let i = 0; i < this.#nStreams; i++) this.#name(h, this.#streams[i]!)
    this.#out[0] = view(h, this.#headView)
    this.#out[1] = records
    return this.#out
  }

  /** One buffer holding the whole encoded append (for callers off the hot path). */
  encode(
    module: string,
    core: string,
    seq: bigint,
    rts: number,
    records: readonly EncodeRecord[],
  ): Uint8Array {
    this.begin(rts)
    for (const r of records) this.add(r.stream, r.ts, r.body)
    return Buffer.concat(this.finish(module, core, seq))
  }

  #name(w: Writer, n: Uint8Array | string): void {
    let bytes: Uint8Array | undefined
    if (typeof n === 'string') {
      bytes = this.#nameBytes.get(n)
      if (bytes === undefined) {
        if (this.#nameBytes.size >= 4096) this.#nameBytes.clear()
        bytes = Buffer.from(n, 'utf8')
        this.#nameBytes.set(n, bytes)
      }
    } else bytes = n
    w.varint(bytes.length)
    w.bytes(bytes)
  }
}

/** w's bytes [0, pos) as a plain Uint8Array: the cached one again when it already is exactly that. */
function view(w: Writer, last: CachedView): Uint8Array {
  // Compared by the Buffer object: reading `.buffer` is a builtin call that does not inline.
  if (last.of !== w.buf || last.view.length !== w.pos) {
    last.of = w.buf
    last.view = new Uint8Array(w.buf.buffer, w.buf.byteOffset, w.pos)
  }
  return last.view
}
interface CachedView {
  of: Buffer | undefined
  view: Uint8Array
}
