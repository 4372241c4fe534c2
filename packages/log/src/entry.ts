// Pre-encoded appends: a parser thread encodes an append's records in the log's own record format
// (CRC included), and the one writer thread only maps names to catalog ids and copies the bytes.
// See "Parse once" in index.ts. This file is imported by parser threads through
// '@module-ingest/log/entry', so it must stay light: format.ts and node:zlib only.
import { crc32 } from 'node:zlib'
import { MI_ERR_LOG_APPEND_INVALID } from './errors.ts'
import { Reader, Writer } from './format.ts'

/**
 * An encoded append (the bytes a parser hands the writer; never stored as such):
 *
 *   u8 version (1) | f64le rts | f64le firstTs | u64le seq | u32le count | u32le crc32(records)
 *   | f64le bodyBytes | varint len · module | varint len · core | varint k | k × (varint len · stream)
 *   | records: count × (varint streamIdx · zigzag(ts - rts) · varint bodyLen · body)
 *
 * Names are UTF-8. `streamIdx` indexes the k stream names of this append; the writer turns those
 * into catalog ids once per append (the batch's name table, index.ts), so `records` is copied into
 * the group as is and its CRC is folded into the group's with crc32Combine.
 */
export const kEncodedVersion = 1
const kFixedBytes = 1 + 8 + 8 + 8 + 4 + 4 + 8

/** Receive time (µs) of an encoded append, without parsing the rest. */
export function encodedRts(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getFloat64(1, true)
}
/** Sum of the record bodies' lengths of an encoded append. */
export function encodedBodyBytes(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getFloat64(33, true)
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
  #rts = 0
  #firstTs = 0
  #count = 0
  #bodyBytes = 0

  begin(rts: number): void {
    this.#rec.reset()
    this.#streams.length = 0
    this.#index.clear()
    this.#rts = rts
    this.#count = 0
    this.#bodyBytes = 0
  }

  add(stream: string, ts: number, body: Uint8Array): void {
    // Telemetry batches use a handful of names: a short scan beats a Map until there are many.
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
    h.reset()
    h.ensure(kFixedBytes)
    const b = h.buf
    b[0] = kEncodedVersion
    b.writeDoubleLE(this.#rts, 1)
    b.writeDoubleLE(this.#firstTs, 9)
    b.writeBigUInt64LE(seq, 17)
    b.writeUInt32LE(this.#count, 25)
    b.writeUInt32LE(crc32(records), 29)
    b.writeDoubleLE(this.#bodyBytes, 33)
    h.pos = kFixedBytes
    name(h, module)
    name(h, core)
    h.varint(this.#streams.length)
    for (const s of this.#streams) name(h, s)
    return [h.buf.subarray(0, h.pos), records]
  }

  /** One buffer holding the whole encoded append (for callers off the hot path). */
  encode(module: string, core: string, seq: bigint, rts: number, records: EncodeRecord[]): Uint8Array {
    this.begin(rts)
    for (const r of records) this.add(r.stream, r.ts, r.body)
    const [head, rec] = this.finish(module, core, seq)
    return Buffer.concat([head, rec])
  }
}

function name(w: Writer, n: Uint8Array | string): void {
  if (typeof n === 'string') {
    w.ensure(10 + n.length * 3)
    // Reserve one varint byte; names over 127 bytes (rare) are moved right by the extra bytes.
    const at = w.pos
    const len = w.buf.write(n, at + 1, 'utf8')
    if (len < 0x80) {
      w.buf[at] = len
      w.pos = at + 1 + len
    } else {
      const bytes = Buffer.from(w.buf.subarray(at + 1, at + 1 + len))
      w.pos = at
      w.varint(len)
      w.bytes(bytes)
    }
  } else {
    w.varint(n.length)
    w.bytes(n)
  }
}

/** The parsed header of an encoded append (one reused object per reader). */
export interface EncodedHeader {
  rts: number
  firstTs: number
  seq: bigint
  count: number
  crc: number
  module: string
  core: string
  /** Byte range of the name table (varint k · names) and the records. */
  tableStart: number
  recordsStart: number
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The writer's side: parses encoded appends and maps their name tables to catalog ids. Consecutive
 * appends nearly always repeat the previous module, core and name table (a socket chunk holds many
 * frames of one session): those are compared as bytes and reused instead of decoded.
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
  #lastNames = new Uint8Array(0)
  #lastTable = new Uint8Array(0)
  #lastIds: number[] = []
  #lastEpoch = -1

  /** Parse `b`'s header (throws MI_ERR_LOG_APPEND_INVALID when malformed). */
  read(b: Uint8Array): EncodedHeader {
    const h = this.header
    try {
      if (b.length < kFixedBytes || b[0] !== kEncodedVersion) throw new RangeError('version')
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
      h.rts = dv.getFloat64(1, true)
      h.firstTs = dv.getFloat64(9, true)
      h.seq = dv.getBigUint64(17, true)
      h.count = dv.getUint32(25, true)
      h.crc = dv.getUint32(29, true)
      const r = new Reader(b, kFixedBytes)
      const moduleEnd = skipName(r)
      const namesEnd = skipName(r)
      if (!sameBytes(b, kFixedBytes, namesEnd, this.#lastNames)) {
        const r2 = new Reader(b, kFixedBytes)
        h.module = readName(r2)
        h.core = readName(r2)
        this.#lastNames = b.slice(kFixedBytes, namesEnd)
      }
      h.tableStart = namesEnd
      const k = r.varint()
      for (let i = 0; i < k; i++) skipName(r)
      h.recordsStart = r.pos
      if (moduleEnd === kFixedBytes + 1 || h.count < 1 || k < 1 || k > h.count) throw new RangeError('header')
      if (!Number.isSafeInteger(h.rts) || h.rts < 0 || !Number.isSafeInteger(h.firstTs))
        throw new RangeError('ts')
    } catch (err) {
      this.#lastNames = new Uint8Array(0)
      throw new MI_ERR_LOG_APPEND_INVALID(`malformed encoded append (${(err as Error).message})`)
    }
    return h
  }

  /**
   * Catalog ids of the last read append's stream names, interning new ones. Reused while the
   * table bytes repeat within one `epoch` (a log failure forgets un-persisted names).
   */
  ids(b: Uint8Array, epoch: number, intern: (name: string) => number): number[] {
    const h = this.header
    if (epoch === this.#lastEpoch && sameBytes(b, h.tableStart, h.recordsStart, this.#lastTable))
      return this.#lastIds
    const r = new Reader(b, h.tableStart, h.recordsStart)
    const k = r.varint()
    const ids = new Array<number>(k)
    for (let i = 0; i < k; i++) {
      const n = readName(r)
      if (n.length === 0) throw new MI_ERR_LOG_APPEND_INVALID('stream must be a non-empty string')
      ids[i] = intern(n)
    }
    this.#lastTable = b.slice(h.tableStart, h.recordsStart)
    this.#lastIds = ids
    this.#lastEpoch = epoch
    return ids
  }
}

function skipName(r: Reader): number {
  r.skip(r.varint())
  return r.pos
}
function readName(r: Reader): string {
  const len = r.varint()
  const at = r.pos
  r.skip(len)
  return utf8.decode(r.buf.subarray(at, at + len))
}
function sameBytes(b: Uint8Array, start: number, end: number, last: Uint8Array): boolean {
  const n = end - start
  if (n !== last.length) return false
  // A JS loop: names are a few dozen bytes, shorter than a native compare's call overhead.
  for (let i = 0; i < n; i++) if (b[start + i] !== last[i]) return false
  return true
}

/**
 * Append the batch of the encoded append `b` (header from EncodedReader.read) to a group's body:
 * the batch header and name table are written here, the records are copied. Returns the body's
 * CRC after it, from `crc` (the body's CRC before) without reading the records again.
 */
export function writeEncodedBatch(
  w: Writer,
  crc: number,
  b: Uint8Array,
  h: EncodedHeader,
  moduleId: number,
  coreId: number,
  rtsDelta: number,
  ids: number[],
): number {
  const start = w.pos
  w.varint(moduleId)
  w.varint(coreId)
  w.u64(h.seq)
  w.zigzag(rtsDelta)
  w.varint(h.count)
  w.varint(ids.length)
  for (const id of ids) w.varint(id)
  const next = crc32(w.buf.subarray(start, w.pos), crc)
  const records = b.subarray(h.recordsStart)
  w.bytes(records)
  return crc32Combine(next, h.crc, records.length)
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
