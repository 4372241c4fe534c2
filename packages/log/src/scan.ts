// Sequential group iteration over a segment file: the one loop that recovery, index rebuilds, the
// raw verify tools and readers' positioning share.
import fs from 'node:fs'
import { promisify } from 'node:util'
import { checkGroup, type GroupHeader, kGroupMagic, kGroupMagicMask, kGroupPrefixBytes } from './format.ts'

const read = promisify(fs.read)

export const kScanChunkBytes = 1024 * 1024

export interface ScannedGroup {
  header: GroupHeader
  payload: Uint8Array
  restPos: number
}

export interface ScanStop {
  offset: number // first byte not accepted (== end when the scan ran clean)
  reason?: string // set when a bad group stopped the scan before `end`
}

export async function readAt(fd: number, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length)
  let got = 0
  while (got < length) {
    const { bytesRead } = await read(fd, buf, got, length - got, position + got)
    if (bytesRead === 0) break
    got += bytesRead
  }
  return got === length ? buf : buf.subarray(0, got)
}

/**
 * Visit every valid group in [start, end). Stops at the first group that fails its checks (torn,
 * CRC-bad, or over `end`) and reports where. `visit` may return false to stop early (clean stop).
 */
export async function scanGroups(
  fd: number,
  start: number,
  end: number,
  visit: (g: ScannedGroup) => boolean | undefined | Promise<boolean | undefined>,
  opts: { verifyCrc?: boolean; chunkBytes?: number } = {},
): Promise<ScanStop> {
  const chunk = opts.chunkBytes ?? kScanChunkBytes
  const verifyCrc = opts.verifyCrc ?? true
  let buf: Buffer = Buffer.alloc(0)
  let bufOff = start // segment offset of buf[0]
  let offset = start
  while (offset < end) {
    const pos = offset - bufOff
    let check = checkGroup(buf, pos, bufOff, verifyCrc)
    // Refill from `offset`: first a chunk, then (for a group bigger than a chunk, whose size we only
    // learn from its prefix) exactly the group.
    for (let refill = 0; !check.ok && check.needBytes !== undefined; refill++) {
      if (refill === 2 || offset + check.needBytes > end)
        return { offset, reason: `torn group (${check.reason})` }
      buf = await readAt(fd, offset, Math.min(Math.max(chunk, check.needBytes), end - offset))
      bufOff = offset
      check = checkGroup(buf, 0, bufOff, verifyCrc)
    }
    if (!check.ok) return { offset, reason: check.reason }
    const more = await visit({ header: check.header, payload: check.payload, restPos: check.restPos })
    offset += check.header.totalBytes
    if (more === false) return { offset }
  }
  return { offset }
}

/**
 * Every intact group of segment `base` in [start, end), damaged ranges skipped (each resumes at
 * findNextGroup): for the passes that want whatever is readable (catalog rebuild, a segment's ids).
 */
export async function scanReadableGroups(
  fd: number,
  base: number,
  start: number,
  end: number,
  visit: (g: ScannedGroup) => boolean | undefined,
): Promise<void> {
  let offset = start
  while (offset < end) {
    const stop = await scanGroups(fd, offset, end, visit)
    if (stop.reason === undefined) return
    const next = await findNextGroup(fd, stop.offset, end, base, base + end)
    if (next === undefined) return
    offset = next
  }
}

/**
 * Where the next intact group after a bad one starts, if any: the first offset in (from, end) whose
 * bytes pass checkGroup (length, magic, CRC) with a baseLsn in [minLsn, minLsn + end - from] (lsns
 * cannot outgrow bytes). Tries the bad group's own length first (a flipped payload byte leaves it
 * intact), then every byte. Recovery uses it to tell a torn tail (nothing intact follows) from
 * damage in the middle of durable data.
 */
export async function findNextGroup(
  fd: number,
  from: number,
  end: number,
  minLsn: number,
  maxLsn = minLsn + (end - from),
): Promise<number | undefined> {
  // Cheap checks first (synchronous: they run for every byte of the range).
  const plausible = (b: Buffer, pos: number, off: number): boolean => {
    if (b.length - pos < kGroupPrefixBytes) return false
    const len = b.readUInt32LE(pos)
    if (len < 4 || off + kGroupPrefixBytes + len > end) return false
    if (b.length - pos >= kGroupPrefixBytes + 10) {
      if ((b[pos + kGroupPrefixBytes]! & kGroupMagicMask) !== kGroupMagic) return false
      const lsn = peekVarint(b, pos + kGroupPrefixBytes + 1)
      if (lsn < minLsn || lsn > maxLsn) return false
    }
    return true
  }
  const at = async (off: number, buf?: Buffer, pos = 0): Promise<boolean> => {
    let b = buf ?? (await readAt(fd, off, kGroupPrefixBytes + 10))
    if (!plausible(b, pos, off)) return false
    const len = b.readUInt32LE(pos)
    if (b.length - pos < kGroupPrefixBytes + len) {
      b = await readAt(fd, off, kGroupPrefixBytes + len)
      pos = 0
    }
    const c = checkGroup(b, pos, off - pos)
    return c.ok && c.header.baseLsn >= minLsn && c.header.baseLsn <= maxLsn
  }
  const head = await readAt(fd, from, kGroupPrefixBytes)
  if (head.length === kGroupPrefixBytes) {
    const skip = from + kGroupPrefixBytes + head.readUInt32LE(0)
    if (skip < end && (await at(skip))) return skip
  }
  for (let p = from + 1; p < end; ) {
    const chunk = await readAt(fd, p, Math.min(kScanChunkBytes, end - p))
    // Candidates need their 18-byte head inside the chunk, except at the very end of the range.
    const last = p + chunk.length >= end ? chunk.length : chunk.length - (kGroupPrefixBytes + 10)
    for (let i = 0; i < last; i++) if (plausible(chunk, i, p + i) && (await at(p + i, chunk, i))) return p + i
    p += Math.max(1, last)
  }
  return undefined
}

/** baseLsn of the group whose first bytes are `head` (prefix 8 · flags 1 · varint baseLsn), -1 if unreadable. */
export function peekGroupBaseLsn(head: Buffer): number {
  return peekVarint(head, kGroupPrefixBytes + 1)
}

function peekVarint(b: Buffer, pos: number): number {
  let result = 0
  let mul = 1
  for (let p = pos; p < Math.min(b.length, pos + 8); p++) {
    const byte = b[p]!
    result += (byte & 0x7f) * mul
    if (byte < 0x80) return result
    mul *= 0x80
  }
  return -1
}
