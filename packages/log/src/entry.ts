// Pre-encoded appends: a parser thread encodes an append's records in the log's own record format
// (CRC included), and the one writer thread only maps names to catalog ids and copies the bytes.
// See "Parse once" in index.ts. This file is imported by parser threads through
// '@module-ingest/log/entry', so it must stay light: format.ts and node:zlib only.
import { crc32 } from 'node:zlib'
import { MI_ERR_LOG_APPEND_INVALID } from './errors.ts'
import { Writer } from './format.ts'

/**
 * An encoded append (the bytes a parser hands the writer; never stored as such):
 *
 *   u8 version (1) | u8 flags (1: crc is set) | f64le rts | f64le firstTs | u64le seq | u32le count
 *   | u32le crc32(records) | f64le bodyBytes | varint len · module | varint len · core
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
/** Records from this size up are CRC'd by the encoder (the parser), below it by the writer. */
export const kParserCrcBytes = 2048
const kFixedBytes = 42

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
  ts: number
  body: Uint8Array
}

/**
 * Builds encoded appends, reusing its buffers (one per thread): begin(), add() per record,
 * finish(). The views finish() returns are valid until the next begin().
 */
export class AppendEncoder {
  #rec = new Writer(64 * 1024)
  #head = new Writer(1024)
  #streams: string[] = []
  #index = new Map<string, number>()
  /** UTF-8 of stream names seen lately (telemetry repeats a handful millions of times). */
  #nameBytes = new Map<string, Uint8Array>()
  #rts = 0
  #firstTs = 0
  #count = 0
  #bodyBytes = 0

  begin(rts: number): void {
    this.#rec.pos = 0
    this.#streams.length = 0
    if (this.#index.size > 0) this.#index.clear()
    this.#rts = rts
    this.#count = 0
    this.#bodyBytes = 0
  }

  add(stream: string, ts: number, body: Uint8Array): void {
    // Batches use a handful of names: a short scan beats a Map until there are many.
    const s = this.#streams
    let idx = -1
    if (s.length <= 8) {
      for (let i = 0; i < s.length; i++)
        if (s[i] === stream) {
          idx = i
          break
        }
    } else idx = this.#index.get(stream) ?? -1
    if (idx < 0) {
      idx = s.push(stream) - 1
      if (s.length === 9) for (let i = 0; i < s.length; i++) this.#index.set(s[i]!, i)
      else if (s.length > 9) this.#index.set(stream, idx)
    }
    if (this.#count === 0) this.#firstTs = ts
    const w = this.#rec
    w.varint(idx)
    w.zigzag(ts - this.#rts)
    w.varint(body.length)
    w.bytes(body)
    this.#count++
    this.#bodyBytes += body.length
  }

  /** [header, records]: copy both, in order, to form the encoded append. */
  finish(module: Uint8Array | string, core: Uint8Array | string, seq: bigint): [Uint8Array, Uint8Array] {
    const records = this.#rec.buf.subarray(0, this.#rec.pos)
    const h = this.#head
    h.pos = 0
    h.ensure(kFixedBytes)
    const b = h.buf
    const crc = records.length >= kParserCrcBytes
    b[0] = kEncodedVersion
    b[1] = crc ? kFlagCrc : 0
    b.writeDoubleLE(this.#rts, 2)
    b.writeDoubleLE(this.#firstTs, 10)
    // Two u32 from one BigInt→Number conversion: writeBigUInt64LE costs ~4× more per frame.
    const n = Number(seq)
    if (n <= Number.MAX_SAFE_INTEGER) {
      b.writeUInt32LE(n % 0x1_0000_0000, 18)
      b.writeUInt32LE(Math.floor(n / 0x1_0000_0000), 22)
    } else b.writeBigUInt64LE(seq, 18)
    b.writeUInt32LE(this.#count, 26)
    b.writeUInt32LE(crc ? crc32(records) : 0, 30)
    b.writeDoubleLE(this.#bodyBytes, 34)
    h.pos = kFixedBytes
    this.#name(module)
    this.#name(core)
    h.varint(this.#streams.length)
    for (const s of this.#streams) this.#name(s)
    return [h.buf.subarray(0, h.pos), records]
  }

  /** One buffer holding the whole encoded append (for callers off the hot path). */
  encode(module: string, core: string, seq: bigint, rts: number, records: EncodeRecord[]): Uint8Array {
    this.begin(rts)
    for (const r of records) this.add(r.stream, r.ts, r.body)
    const [head, rec] = this.finish(module, core, seq)
    return Buffer.concat([head, rec])
  }

  #name(n: Uint8Array | string): void {
    let bytes: Uint8Array | undefined
    if (typeof n === 'string') {
      bytes = this.#nameBytes.get(n)
      if (bytes === undefined) {
        if (this.#nameBytes.size >= 4096) this.#nameBytes.clear()
        bytes = Buffer.from(n, 'utf8')
        this.#nameBytes.set(n, bytes)
      }
    } else bytes = n
    const w = this.#head
    w.varint(bytes.length)
    w.bytes(bytes)
  }
}

/** The parsed header of an encoded append (one reused object per reader). */
export interface EncodedHeader {
  rts: number
  firstTs: number
  seq: bigint
  count: number
  /** crc32 of the records, or -1 when the encoder left it to the writer (small appends). */
  crc: number
  module: string
  core: string
  /** Byte offsets (within the append) of the name table (varint k · names) and of the records. */
  tableStart: number
  recordsStart: number
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The writer's side: parses encoded appends and maps their names to catalog ids. Consecutive
 * appends nearly always repeat the previous module, core and name table (a socket chunk holds many
 * frames of one session): those are compared as bytes and their ids reused instead of decoded.
 */
export class EncodedReader {
  readonly header: EncodedHeader = {
    rts: 0,
    firstTs: 0,
    seq: 0n,
    count: 0,
    crc: 0,
    module: '',
    core: '',
    tableStart: 0,
    recordsStart: 0,
  }
  /** module · core · table bytes of the last append whose ids are cached, and those ids. */
  #lastNames = new Uint8Array(0)
  #lastEpoch = -1
  #moduleId = 0
  #coreId = 0
  #ids: number[] = []

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
      let p = skipName(b, kFixedBytes)
      if (p === kFixedBytes + 1) throw new RangeError('empty module')
      p = skipName(b, p)
      h.tableStart = p
      const k = varintAt(b, p)
      p = at
      for (let i = 0; i < k; i++) p = skipName(b, p)
      h.recordsStart = p
      if (h.count < 1 || k < 1 || k > h.count) throw new RangeError('header')
      if (!Number.isSafeInteger(h.rts) || h.rts < 0 || !Number.isSafeInteger(h.firstTs))
        throw new RangeError('ts')
    } catch (err) {
      this.#lastEpoch = -1
      throw new MI_ERR_LOG_APPEND_INVALID(`malformed encoded append (${(err as Error).message})`)
    }
    return h
  }

  /**
   * Catalog ids of the last read append's module, core (0 for '') and stream names, interning new
   * ones. Reused while the name bytes repeat within one `epoch` (a log failure forgets names).
   */
  ids(b: Uint8Array, epoch: number, intern: (name: string) => number): number[] {
    const h = this.header
    if (epoch === this.#lastEpoch && sameBytes(b, kFixedBytes, h.recordsStart, this.#lastNames))
      return this.#ids
    this.#lastEpoch = -1
    let p = kFixedBytes
    h.module = readName(b, p)
    p = at
    h.core = readName(b, p)
    p = at
    const k = varintAt(b, p)
    p = at
    const ids = new Array<number>(k)
    for (let i = 0; i < k; i++) {
      const n = readName(b, p)
      p = at
      if (n.length === 0) throw new MI_ERR_LOG_APPEND_INVALID('stream must be a non-empty string')
      ids[i] = intern(n)
    }
    this.#moduleId = intern(h.module)
    this.#coreId = h.core === '' ? 0 : intern(h.core)
    this.#ids = ids
    this.#lastNames = b.slice(kFixedBytes, h.recordsStart)
    this.#lastEpoch = epoch
    return ids
  }
  get moduleId(): number {
    return this.#moduleId
  }
  get coreId(): number {
    return this.#coreId
  }
}

// Varint reads over a plain (buffer, offset): the end position is left in `at` (no allocation).
let at = 0
function varintAt(b: Uint8Array, p: number): number {
  let result = 0
  let mul = 1
  for (let i = 0; i < 8; i++) {
    if (p >= b.length) throw new RangeError('truncated')
    const byte = b[p++]!
    result += (byte & 0x7f) * mul
    if (byte < 0x80) {
      at = p
      return result
    }
    mul *= 0x80
  }
  throw new RangeError('varint too long')
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
