// On-disk byte layout shared by the writer, the readers and the raw tools. Nothing here does I/O.
// The layout is drawn in the design header in index.ts; this file is the single definition.
import { crc32, zstdDecompressSync } from 'node:zlib'

export const kSegmentMagic = Buffer.from('MILOGSG1', 'latin1') // 8 bytes
export const kSegmentHeaderBytes = 16 // magic(8) + base lsn (u64 LE)
export const kGroupPrefixBytes = 8 // payload length u32 LE + crc32 u32 LE
export const kGroupMagic = 0xa0 // high bits of the flags byte: cheap sanity before the CRC
/**
 * Some record ts of the group is above 2^53-1 (index.ts "Timestamps above 2^53"): its zigzag
 * delta may need more than 8 varint bytes and readers must decode it exactly (bigint). It sits in
 * the magic nibble (0xB0) on purpose: builds older than it see "bad group magic" and refuse the
 * group as damage instead of ignoring an unknown bit and misreading the timestamps.
 */
export const kFlagTs64 = 0x10
/** Magic bits of the flags byte (kGroupMagic, with kFlagTs64 masked out). */
export const kGroupMagicMask = 0xe0
export const kFlagZstd = 0x01
/** The group declares catalog names (ids it is the first to use, or all of them after a roll). */
export const kFlagNames = 0x02
/**
 * The group's batches carry a name table and their records index it (index.ts "Parse once").
 * Every group written since this flag exists has it; groups without it are read as before.
 */
export const kFlagBatchNames = 0x04
/** Low flag bits this build knows: a group with another one (a newer build's) is refused, not misread. */
const kKnownLowFlags = kFlagZstd | kFlagNames | kFlagBatchNames
export const kMaxGroupPayloadBytes = 0x7fff_ffff

/** `00000000000000000001.seg`: 20 digits so that names sort like their base lsn. */
export function segmentName(base: number): string {
  return `${String(base).padStart(20, '0')}.seg`
}
export function indexName(base: number): string {
  return `${String(base).padStart(20, '0')}.idx`
}
export function parseSegmentName(name: string): number | undefined {
  const m = /^(\d{20})\.seg$/.exec(name)
  return m ? Number(m[1]) : undefined
}

export function encodeSegmentHeader(base: number): Buffer {
  const b = Buffer.alloc(kSegmentHeaderBytes)
  kSegmentMagic.copy(b, 0)
  b.writeBigUInt64LE(BigInt(base), 8)
  return b
}
export function decodeSegmentHeader(b: Uint8Array): number | undefined {
  if (b.length < kSegmentHeaderBytes) return undefined
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length)
  if (!buf.subarray(0, 8).equals(kSegmentMagic)) return undefined
  return Number(buf.readBigUInt64LE(8))
}

// ---------------------------------------------------------------------------------------------
// Varints (LEB128) over plain numbers up to 2^53, and u64 bigints for seq.

export class Writer {
  buf: Buffer
  pos = 0
  /** A size to allocate, or a buffer to write into from its start (a recycled one). */
  constructor(initial: number | Buffer = 64 * 1024) {
    this.buf = typeof initial === 'number' ? Buffer.allocUnsafe(initial) : initial
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }
  u8(v: number): void {
    this.ensure(1)
    this.buf[this.pos++] = v
  }
  varint(v: number): void {
    this.ensure(10)
    const b = this.buf
    let p = this.pos
    while (v >= 0x80) {
      b[p++] = (v % 0x80) | 0x80
      v = Math.floor(v / 0x80)
    }
    b[p++] = v
    this.pos = p
  }
  zigzag(v: number): void {
    this.varint(v >= 0 ? v * 2 : -v * 2 - 1)
  }
  /** zigzag(ts - rts) exactly, for a ts above 2^53-1 (up to 10 bytes; kFlagTs64 groups only). */
  zigzagBig(ts: bigint, rts: number): void {
    const d = ts - BigInt(rts)
    this.u64(d >= 0n ? d * 2n : -d * 2n - 1n)
  }
  u64(v: bigint): void {
    if (v <= 0x1f_ffff_ffff_ffffn) {
      this.varint(Number(v))
      return
    }
    this.ensure(10)
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80
      v >>= 7n
    }
    this.buf[this.pos++] = Number(v)
  }
  bytes(src: Uint8Array): void {
    this.ensure(src.length)
    this.buf.set(src, this.pos)
    this.pos += src.length
  }
  reset(): void {
    this.pos = 0
  }
}

const kMaxSafe = BigInt(Number.MAX_SAFE_INTEGER)

/** A cursor over a byte range. Reads past `end` throw RangeError, which decoders turn into "corrupt". */
export class Reader {
  buf: Uint8Array
  pos: number
  end: number
  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.buf = buf
    this.pos = pos
    this.end = end
  }
  u8(): number {
    if (this.pos >= this.end) throw new RangeError('truncated')
    return this.buf[this.pos++]!
  }
  varint(): number {
    let result = 0
    let mul = 1
    for (let i = 0; i < 8; i++) {
      const byte = this.u8()
      result += (byte & 0x7f) * mul
      if (byte < 0x80) return result
      mul *= 0x80
    }
    throw new RangeError('varint too long')
  }
  zigzag(): number {
    const v = this.varint()
    return v % 2 === 0 ? v / 2 : -(v + 1) / 2
  }
  /**
   * `rts + zigzag delta` read exactly (kFlagTs64 groups): a number when it is a safe integer,
   * otherwise a bigint, so a ts has one representation whatever group it was read from.
   */
  tsExact(rts: number): number | bigint {
    const z = this.u64()
    if (z <= 0x1f_ffff_ffff_ffffn) {
      const v = Number(z)
      const ts = rts + (v % 2 === 0 ? v / 2 : -(v + 1) / 2)
      if (Number.isSafeInteger(ts)) return ts
    }
    const ts = BigInt(rts) + (z % 2n === 0n ? z / 2n : -(z + 1n) / 2n)
    return ts >= -kMaxSafe && ts <= kMaxSafe ? Number(ts) : ts
  }
  u64(): bigint {
    let result = 0n
    let shift = 0n
    for (let i = 0; i < 10; i++) {
      const byte = this.u8()
      result |= BigInt(byte & 0x7f) << shift
      if (byte < 0x80) return result
      shift += 7n
    }
    throw new RangeError('varint too long')
  }
  skip(n: number): void {
    if (n < 0 || this.pos + n > this.end) throw new RangeError('truncated')
    this.pos += n
  }
}

// ---------------------------------------------------------------------------------------------
// Group = the unit of atomicity and of CRC. One group holds one or more whole appends (batches).
//
//   u32 payloadLen | u32 crc32(payload) | payload:
//     u8 flags (0xA0 | zstd) · varint baseLsn · varint recordCount · varint baseRts
//     [zstd: varint rawLen · zstd frame of the rest]
//     rest = batch*:  varint moduleId · varint coreId · u64 seq · zigzag(rts - baseRts) · varint n
//                     [flag 4: varint k · k × varint streamId]
//                     n × ( varint streamId (flag 4: index into the k) · zigzag(ts - rts) · varint bodyLen · body )
//     flag 0x10 (kFlagTs64): some zigzag(ts - rts) exceeds 2^53: read every one exactly (Reader.tsExact)

export interface GroupHeader {
  offset: number // byte offset of the group in its segment
  totalBytes: number // prefix + payload
  flags: number
  baseLsn: number
  count: number
  baseRts: number
  /** Catalog names the group declares: ids firstId, firstId + 1, … (kFlagNames). */
  names?: { firstId: number; names: string[] }
}

export type GroupCheck =
  | { ok: true; header: GroupHeader; payload: Uint8Array; restPos: number }
  | { ok: false; reason: string; needBytes?: number }

/**
 * Validate the group starting at `pos` of `buf` (whose first byte sits at segment offset `bufOffset`).
 * `needBytes` is set when the buffer simply ends too early (the caller may read more).
 */
const utf8 = new TextDecoder()

export function checkGroup(buf: Uint8Array, pos: number, bufOffset: number, verifyCrc = true): GroupCheck {
  if (buf.length - pos < kGroupPrefixBytes)
    return { ok: false, reason: 'short prefix', needBytes: kGroupPrefixBytes }
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const len = dv.getUint32(pos, true)
  const crc = dv.getUint32(pos + 4, true)
  if (len < 4 || len > kMaxGroupPayloadBytes) return { ok: false, reason: `bad length ${len}` }
  if (buf.length - pos < kGroupPrefixBytes + len) {
    return { ok: false, reason: 'short payload', needBytes: kGroupPrefixBytes + len }
  }
  const payload = buf.subarray(pos + kGroupPrefixBytes, pos + kGroupPrefixBytes + len)
  if ((payload[0]! & kGroupMagicMask) !== kGroupMagic) return { ok: false, reason: 'bad group magic' }
  if ((payload[0]! & 0x0f & ~kKnownLowFlags) !== 0)
    return {
      ok: false,
      reason: `unknown group flags 0x${payload[0]!.toString(16)} (written by a newer build?)`,
    }
  if (verifyCrc && crc32(payload) !== crc) return { ok: false, reason: 'crc mismatch' }
  try {
    const r = new Reader(payload, 1)
    const baseLsn = r.varint()
    const count = r.varint()
    const baseRts = r.varint()
    if (baseLsn < 1 || count < 1) return { ok: false, reason: 'bad group header' }
    let names: GroupHeader['names']
    if ((payload[0]! & kFlagNames) !== 0) {
      const firstId = r.varint()
      const n = r.varint()
      if (firstId < 1) return { ok: false, reason: 'bad group header' }
      const list: string[] = []
      for (let i = 0; i < n; i++) {
        const l = r.varint()
        const at = r.pos
        r.skip(l)
        list.push(utf8.decode(payload.subarray(at, at + l)))
      }
      names = { firstId, names: list }
    }
    return {
      ok: true,
      header: {
        offset: bufOffset + pos,
        totalBytes: kGroupPrefixBytes + len,
        flags: payload[0]!,
        baseLsn,
        count,
        baseRts,
        ...(names ? { names } : {}),
      },
      payload,
      restPos: r.pos,
    }
  } catch {
    return { ok: false, reason: 'bad group header' }
  }
}

export interface DecodedRecord {
  lsn: number
  streamId: number
  moduleId: number
  coreId: number
  seq: bigint
  /** A bigint only above 2^53-1 (kFlagTs64 groups). */
  ts: number | bigint
  rts: number
  body: Uint8Array
}

/** One decoded append inside a group (module/core/seq/rts are per batch). */
export interface DecodedBatch {
  moduleId: number
  coreId: number
  seq: bigint
  rts: number
  firstLsn: number
  records: { streamId: number; ts: number | bigint; body: Uint8Array }[]
}

/** The uncompressed batch bytes of a checked group. */
export function groupBody(payload: Uint8Array, restPos: number, flags: number): Uint8Array {
  if ((flags & kFlagZstd) === 0) return payload.subarray(restPos)
  const r = new Reader(payload, restPos)
  const rawLen = r.varint()
  const raw = zstdDecompressSync(payload.subarray(r.pos))
  if (raw.length !== rawLen) throw new RangeError('zstd length mismatch')
  return raw
}

/**
 * Walk the batches of a group. `visit` returns false to stop early. Throws RangeError on malformed
 * content (which cannot happen for a CRC-clean group written by this code).
 */
export function forEachBatch(
  header: GroupHeader,
  body: Uint8Array,
  visit: (b: DecodedBatch) => boolean | undefined,
): void {
  const r = new Reader(body)
  let lsn = header.baseLsn
  const last = header.baseLsn + header.count - 1
  const tables = (header.flags & kFlagBatchNames) !== 0
  const ts64 = (header.flags & kFlagTs64) !== 0
  let table: number[] = []
  while (lsn <= last) {
    const moduleId = r.varint()
    const coreId = r.varint()
    const seq = r.u64()
    const rts = header.baseRts + r.zigzag()
    const n = r.varint()
    if (n < 1 || lsn + n - 1 > last) throw new RangeError('batch overruns group')
    if (tables) {
      const k = r.varint()
      if (k < 1 || k > n) throw new RangeError('bad batch name table')
      table = new Array(k)
      for (let j = 0; j < k; j++) table[j] = r.varint()
    }
    const records: DecodedBatch['records'] = new Array(n)
    for (let i = 0; i < n; i++) {
      let streamId = r.varint()
      if (tables) {
        const id = table[streamId]
        if (id === undefined) throw new RangeError('stream index outside the batch name table')
        streamId = id
      }
      const ts = ts64 ? r.tsExact(rts) : rts + r.zigzag()
      const len = r.varint()
      const start = r.pos
      r.skip(len)
      records[i] = { streamId, ts, body: body.subarray(start, start + len) }
    }
    const batch: DecodedBatch = { moduleId, coreId, seq, rts, firstLsn: lsn, records }
    lsn += n
    if (visit(batch) === false) return
  }
  if (r.pos !== r.end) throw new RangeError('trailing bytes in group')
}

export function crc(b: Uint8Array): number {
  return crc32(b)
}
