// Pre-encoded appends: a parser thread encodes an append's records in the log's own record format
// (CRC included), and the one writer thread only maps names to catalog ids and copies the bytes.
// See "Parse once" in index.ts. This file is imported by parser threads through
// '@module-ingest/log/entry', so it must stay light: format.ts, varint-at.ts and node:zlib only.
import { crc32 } from 'node:zlib'
import { MI_ERR_LOG_APPEND_INVALID } from './errors.ts'
import { Writer } from './format.ts'
import type { PackedRecords } from './packed.ts'
import { kBadVarint, varintAt as readVarint, varintEnd } from './varint-at.ts'

/**
 * An encoded append (the bytes a parser hands the writer; never stored as such):
 *
 *   u8 version (1) | u8 flags (1: crc is set, 2: a ts above 2^53-1) | f64le rts | f64le firstTs
 *   | u64le seq | u32le count | u32le crc32(records) | f64le bodyBytes | varint len · module | varint len · core
 *   | varint k | k × (varint len · stream) | records: count × record (index.ts, flag 4)
 *
 * Names are UTF-8. A record's stream index points into the k stream names of this append; the
 * writer turns those into catalog ids once per append (the batch's name table), so `records` is
 * copied into the group as is.
 *
 * CRC: a crc32 call costs ~0.5 µs before the first byte, and the writer's group CRC covers ~1 MiB
 * in one call, so for small appends (a DATA frame) the writer folds them in with that one pass
 * (cheaper than a call per frame on either thread). From kParserCrcBytes of records up (a BATCH)
 * the parser computes their CRC and the writer combines it (crc32Combine) without reading them.
 */
export const kEncodedVersion = 1
const kFlagCrc = 1
/** A record's ts is above 2^53-1: its group must be written with format.ts kFlagTs64. */
const kFlagTs64 = 2
const kMaxSafeBig = BigInt(Number.MAX_SAFE_INTEGER)
/** Records from this size up are CRC'd by the encoder (the parser), below it by the writer. */
export const kParserCrcBytes = 2048
const kFixedBytes = 42
/** Longest module, core or stream name append() accepts, in UTF-16 units. */
export const kMaxNameChars = 1024

/** Receive time (µs) of an encoded append, without parsing the rest. */
export function encodedRts(b: Uint8Array): number {
  return dataView(b).getFloat64(b.byteOffset + 2, true)
}
/** Sum of the record bodies' lengths of an encoded append. */
export function encodedBodyBytes(b: Uint8Array): number {
  return dataView(b).getFloat64(b.byteOffset + 34, true)
}

// Ring entries are views into one SharedArrayBuffer per ring: one DataView per buffer, not per entry.
let dvBuffer: ArrayBufferLike | undefined
let dv: DataView = new DataView(new ArrayBuffer(0))
function dataView(b: Uint8Array): DataView {
  if (b.buffer !== dvBuffer) {
    dvBuffer = b.buffer
    dv = new DataView(b.buffer)
  }
  return dv
}

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

/** The parsed header of an encoded append (one reused object per reader). */
export interface EncodedHeader {
  rts: number
  firstTs: number
  seq: bigint
  count: number
  /** crc32 of the records, or -1 when the encoder left it to the writer (small appends). */
  crc: number
  /** A record's ts is above 2^53-1 (its group needs format.ts kFlagTs64). */
  ts64: boolean
  module: string
  core: string
  /** Byte offsets (within the append) of the name table (varint k · names) and of the records. */
  tableStart: number
  recordsStart: number
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The writer's side: parses encoded appends and maps their names to catalog ids. Appends repeat
 * a few module/core/name-table blocks (one per session): those are recognised by their bytes and
 * their ids reused instead of decoded.
 */
export class EncodedReader {
  readonly header: EncodedHeader = {
    rts: 0,
    firstTs: 0,
    seq: 0n,
    count: 0,
    crc: 0,
    ts64: false,
    module: '',
    core: '',
    tableStart: 0,
    recordsStart: 0,
  }
  /** What the last append's names block (module · core · table bytes) maps to. */
  #last: NamesEntry | undefined
  /**
   * Names blocks seen lately, by a hash of their bytes (checked against the bytes): sessions
   * interleave in a ring, so the last block alone misses often. Bounded by a clear.
   */
  #cache = new Map<number, NamesEntry>()

  /** Parse `b`'s header (throws MI_ERR_LOG_APPEND_INVALID when malformed). */
  read(b: Uint8Array): EncodedHeader {
    const h = this.header
    try {
      if (b.length < kFixedBytes || b[0] !== kEncodedVersion) throw new RangeError('version')
      const v = dataView(b)
      const o = b.byteOffset
      h.rts = v.getFloat64(o + 2, true)
      h.firstTs = v.getFloat64(o + 10, true)
      h.seq = v.getBigUint64(o + 18, true)
      h.count = v.getUint32(o + 26, true)
      h.crc = b[1]! & kFlagCrc ? v.getUint32(o + 30, true) : -1
      h.ts64 = (b[1]! & kFlagTs64) !== 0
      let p = skipName(b, kFixedBytes)
      if (p === kFixedBytes + 1) throw new RangeError('empty module')
      p = skipName(b, p)
      h.tableStart = p
      const k = varintAt(b, p)
      p = at
      for (let i = 0; i < k; i++) p = skipName(b, p)
      h.recordsStart = p
      if (h.count < 1 || k < 1 || k > h.count) throw new RangeError('header')
      // firstTs is the nearest double of a u64 in ts64 appends (a summary, not the record's ts).
      if (
        !Number.isSafeInteger(h.rts) ||
        h.rts < 0 ||
        !(h.ts64 ? Number.isInteger(h.firstTs) : Number.isSafeInteger(h.firstTs))
      )
        throw new RangeError('ts')
    } catch (err) {
      this.#last = undefined
      throw new MI_ERR_LOG_APPEND_INVALID(`malformed encoded append (${(err as Error).message})`)
    }
    return h
  }

  /**
   * Catalog ids of the last read append's stream names (moduleId/coreId beside them), interning
   * new ones. Cached by the names' bytes within one `epoch` (a log failure forgets names).
   */
  ids(b: Uint8Array, epoch: number, intern: (name: string) => number): number[] {
    const h = this.header
    const end = h.recordsStart
    let e = this.#last
    if (e === undefined || e.epoch !== epoch || !sameBytes(b, kFixedBytes, end, e.bytes)) {
      const key = fnv1a(b, kFixedBytes, end)
      e = this.#cache.get(key)
      if (e === undefined || e.epoch !== epoch || !sameBytes(b, kFixedBytes, end, e.bytes)) {
        e = decodeNames(b, epoch, intern, end)
        if (this.#cache.size >= 4096) this.#cache.clear()
        this.#cache.set(key, e)
      }
      this.#last = e
    }
    h.module = e.module
    h.core = e.core
    return e.ids
  }
  get moduleId(): number {
    return this.#last?.moduleId ?? 0
  }
  get coreId(): number {
    return this.#last?.coreId ?? 0
  }
}

interface NamesEntry {
  /** The names block's bytes (the cache key's truth). */
  bytes: Uint8Array
  epoch: number
  module: string
  core: string
  moduleId: number
  coreId: number
  ids: number[]
}

function decodeNames(
  b: Uint8Array,
  epoch: number,
  intern: (name: string) => number,
  end: number,
): NamesEntry {
  const module = readName(b, kFixedBytes)
  const core = readName(b, at)
  const k = varintAt(b, at)
  let p = at
  const ids = new Array<number>(k)
  for (let i = 0; i < k; i++) {
    const n = readName(b, p)
    p = at
    if (n.length === 0) throw new MI_ERR_LOG_APPEND_INVALID('stream must be a non-empty string')
    ids[i] = intern(n)
  }
  const bytes = b.slice(kFixedBytes, end)
  return { bytes, epoch, module, core, moduleId: intern(module), coreId: core === '' ? 0 : intern(core), ids }
}

/** FNV-1a over a names block (a few dozen bytes): a cache key that costs no allocation. */
function fnv1a(b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193)
  return h
}

// Varint reads over a plain (buffer, offset): the end position is left in `at` (no allocation).
let at = 0
function varintAt(b: Uint8Array, p: number): number {
  const v = readVarint(b, p)
  if (v === kBadVarint) throw new RangeError('truncated or over-long varint')
  at = varintEnd.end
  return v
}
function skipName(b: Uint8Array, p: number): number {
  const len = varintAt(b, p)
  if (at + len > b.length) throw new RangeError('truncated')
  return at + len
}
function readName(b: Uint8Array, p: number): string {
  const end = skipName(b, p)
  const s = utf8.decode(b.subarray(end - varintAt(b, p), end))
  at = end
  return s
}
function sameBytes(b: Uint8Array, start: number, end: number, last: Uint8Array): boolean {
  const n = end - start
  if (n !== last.length) return false
  // A JS loop: names are a few dozen bytes, shorter than a native compare's call overhead.
  for (let i = 0; i < n; i++) if (b[start + i] !== last[i]) return false
  return true
}

/**
 * The body CRC of a forming group, kept lazily: `crc` covers the body's bytes [0, pos). Small
 * appends are left for one crc32 call over many of them (catchUp); a big append's records come
 * with their CRC from the parser and are combined in without being read.
 */
export interface GroupCrc {
  crc: number
  pos: number
}

/** Fold the body bytes [g.pos, end) into g.crc (one call, however many appends they hold). */
export function catchUp(w: Writer, g: GroupCrc, end = w.pos): void {
  if (end > g.pos) g.crc = crc32(w.buf.subarray(g.pos, end), g.crc)
  g.pos = end
}

/**
 * Append the batch of the encoded append `b` (header from EncodedReader.read, ids from .ids) to a
 * group's body: the batch header and name table are written here, the records are copied.
 */
export function writeEncodedBatch(
  w: Writer,
  g: GroupCrc,
  b: Uint8Array,
  h: EncodedHeader,
  moduleId: number,
  coreId: number,
  rtsDelta: number,
  ids: number[],
): void {
  w.varint(moduleId)
  w.varint(coreId)
  w.u64(h.seq)
  w.zigzag(rtsDelta)
  w.varint(h.count)
  w.varint(ids.length)
  for (let i = 0; i < ids.length; i++) w.varint(ids[i]!)
  const records = b.subarray(h.recordsStart)
  if (h.crc < 0) {
    w.bytes(records)
    return
  }
  catchUp(w, g)
  w.bytes(records)
  g.crc = crc32Combine(g.crc, h.crc, records.length)
  g.pos = w.pos
}

// ---------------------------------------------------------------------------------------------
// crc32Combine: the CRC-32 of A‖B from crc(A), crc(B) and |B|, as zlib's crc32_combine (multiply
// crc(A) by x^(8|B|) modulo the polynomial, in GF(2), then add crc(B)): O(log |B|), no data read.

const kPoly = 0xedb88320
/** a · b modulo the CRC polynomial (bit-reflected, as the CRC itself). */
function multModP(a: number, b: number): number {
  let m = 0x80000000
  let p = 0
  for (;;) {
    if ((a & m) !== 0) {
      p ^= b
      if ((a & (m - 1)) === 0) break
    }
    m >>>= 1
    b = b & 1 ? (b >>> 1) ^ kPoly : b >>> 1
  }
  return p >>> 0
}
/** kX2n[k] = x^(2^k) modulo the polynomial. */
const kX2n = new Uint32Array(32)
{
  let p = 0x40000000 // x^1
  kX2n[0] = p
  for (let k = 1; k < 32; k++) kX2n[k] = p = multModP(p, p)
}

export function crc32Combine(crcA: number, crcB: number, lenB: number): number {
  // x^(8·lenB): the bits of lenB pick powers x^(2^k), starting at k = 3 (8 = 2^3).
  let p = 0x80000000 // x^0
  let k = 3
  for (let n = lenB; n > 0; n = Math.floor(n / 2), k++) if (n % 2 === 1) p = multModP(kX2n[k & 31]!, p)
  return (multModP(p, crcA) ^ crcB) >>> 0
}
