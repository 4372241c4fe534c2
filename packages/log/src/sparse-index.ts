// Sparse per-segment index: one entry every `indexIntervalBytes` of segment data, so positioning by
// lsn or receive time is a binary search over segments (by name) and then over entries.
//
//   <base>.idx:  "MIIDX001" | entry* | [footer]
//     entry  (24 B): f64 lsn (first lsn of the group) · f64 offset · f64 rtsMaxBefore
//     footer (48 B): "MIIDXEND" · f64 lastLsn · f64 endOffset · f64 maxRts · f64 firstTs · u32 count · u32 crc
//
// The active segment's file has no footer: the writer appends entries (no fsync) once the group
// they point at is durable, and readers treat them as hints they verify against the group header.
// A sealed segment's file is replaced atomically with the footer; if missing or bad it is rebuilt.
import fs from 'node:fs'
import { crc32 } from 'node:zlib'

export const kIndexMagic = Buffer.from('MIIDX001', 'latin1')
const kFooterMagic = Buffer.from('MIIDXEND', 'latin1')
export const kIndexEntryBytes = 24
const kFooterBytes = 48

export interface IndexEntry {
  lsn: number
  offset: number
  rtsMaxBefore: number // max rts of every record in the segment before this group (-1: none)
}

export interface SegmentSummary {
  lastLsn: number // 0 when empty
  endOffset: number
  maxRts: number
  firstTs: number // ts of the first record (-1 when empty)
}

export interface SparseIndex {
  entries: IndexEntry[]
  sealed?: SegmentSummary
}

export function encodeEntry(e: IndexEntry): Buffer {
  const b = Buffer.allocUnsafe(kIndexEntryBytes)
  b.writeDoubleLE(e.lsn, 0)
  b.writeDoubleLE(e.offset, 8)
  b.writeDoubleLE(e.rtsMaxBefore, 16)
  return b
}

export function encodeSealedIndex(entries: IndexEntry[], s: SegmentSummary): Buffer {
  const b = Buffer.allocUnsafe(8 + entries.length * kIndexEntryBytes + kFooterBytes)
  kIndexMagic.copy(b, 0)
  let p = 8
  for (const e of entries) {
    b.writeDoubleLE(e.lsn, p)
    b.writeDoubleLE(e.offset, p + 8)
    b.writeDoubleLE(e.rtsMaxBefore, p + 16)
    p += kIndexEntryBytes
  }
  kFooterMagic.copy(b, p)
  b.writeDoubleLE(s.lastLsn, p + 8)
  b.writeDoubleLE(s.endOffset, p + 16)
  b.writeDoubleLE(s.maxRts, p + 24)
  b.writeDoubleLE(s.firstTs, p + 32)
  b.writeUInt32LE(entries.length, p + 40)
  b.writeUInt32LE(crc32(b.subarray(0, p + 44)), p + 44)
  return b
}

export function decodeIndex(b: Buffer): SparseIndex | undefined {
  if (b.length < 8 || !b.subarray(0, 8).equals(kIndexMagic)) return undefined
  const readEntries = (n: number): IndexEntry[] => {
    const out: IndexEntry[] = []
    for (let i = 0, p = 8; i < n; i++, p += kIndexEntryBytes) {
      const e = {
        lsn: b.readDoubleLE(p),
        offset: b.readDoubleLE(p + 8),
        rtsMaxBefore: b.readDoubleLE(p + 16),
      }
      const prev = out.at(-1)
      if (!Number.isSafeInteger(e.lsn) || !Number.isSafeInteger(e.offset)) break
      if (prev && (e.lsn <= prev.lsn || e.offset <= prev.offset)) break
      out.push(e)
    }
    return out
  }
  const body = b.length - 8
  if (body >= kFooterBytes && (body - kFooterBytes) % kIndexEntryBytes === 0) {
    const p = b.length - kFooterBytes
    if (
      b.subarray(p, p + 8).equals(kFooterMagic) &&
      crc32(b.subarray(0, p + 44)) === b.readUInt32LE(p + 44)
    ) {
      const count = b.readUInt32LE(p + 40)
      if (count === (body - kFooterBytes) / kIndexEntryBytes) {
        return {
          entries: readEntries(count),
          sealed: {
            lastLsn: b.readDoubleLE(p + 8),
            endOffset: b.readDoubleLE(p + 16),
            maxRts: b.readDoubleLE(p + 24),
            firstTs: b.readDoubleLE(p + 32),
          },
        }
      }
    }
  }
  return { entries: readEntries(Math.floor(body / kIndexEntryBytes)) }
}

export async function loadIndex(file: string): Promise<SparseIndex | undefined> {
  try {
    return decodeIndex(await fs.promises.readFile(file))
  } catch {
    return undefined
  }
}

/** Last entry with lsn ≤ target (or undefined). */
export function floorByLsn(entries: IndexEntry[], lsn: number): IndexEntry | undefined {
  let lo = 0
  let hi = entries.length - 1
  let found: IndexEntry | undefined
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const e = entries[mid]!
    if (e.lsn <= lsn) {
      found = e
      lo = mid + 1
    } else hi = mid - 1
  }
  return found
}

/** Last entry all of whose predecessors have rts < t (rtsMaxBefore is non-decreasing). */
export function floorByRts(entries: IndexEntry[], t: number): IndexEntry | undefined {
  let lo = 0
  let hi = entries.length - 1
  let found: IndexEntry | undefined
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const e = entries[mid]!
    if (e.rtsMaxBefore < t) {
      found = e
      lo = mid + 1
    } else hi = mid - 1
  }
  return found
}
