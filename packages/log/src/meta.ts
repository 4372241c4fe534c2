// Small metadata files beside the segments. Every file that must survive a crash is replaced
// atomically (write-new + fsync + rename + fsync dir); the watermark file is the exception: it is a
// hint rewritten in place after every commit, never fsynced, and rebuilt by recovery.

import path from 'node:path'
import { crc32 } from 'node:zlib'
import { MI_ERR_LOG_GROUP_INVALID } from './errors.ts'
import { afs, fs } from './fsio.ts'

export const kWatermarkFile = 'durable'
export const kQuarantineFile = 'quarantine.json'
export const kGroupsDir = 'groups'
export const kLockFile = 'writer.pid'
export const kCheckpointFiles = ['checkpoint.0', 'checkpoint.1'] as const

let tmpCounter = 0

/**
 * The mode of a file created in an existing log directory by a reader or a repair tool (consumer
 * groups, quarantine, lock, rebuilt indexes): the directory's read/write bits (0700 → 0600). The
 * writer sets the directory to its `dirMode` at open, so these follow its options unseen.
 */
export function fileModeIn(dir: string): number {
  try {
    return fs.statSync(dir).mode & 0o666
  } catch {
    return 0o600
  }
}

/** write-new + fsync + rename + fsync(dir): after a crash the file holds the old or the new bytes. */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  syncDir = true,
  mode = fileModeIn(path.dirname(file)),
): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${++tmpCounter}`
  const bytes = typeof data === 'string' ? Buffer.from(data) : data
  try {
    const fd = await afs.open(tmp, 'w', mode)
    try {
      for (let off = 0; off < bytes.length; ) off += await afs.write(fd, bytes.subarray(off), off)
      await afs.fsync(fd)
    } finally {
      await afs.close(fd)
    }
    await afs.rename(tmp, file)
  } catch (err) {
    // ENOSPC mid-write must not leave `<file>.tmp-*` behind (recovery also sweeps them).
    await afs.rm(tmp, { force: true }).catch(() => {})
    throw err
  }
  if (syncDir) await fsyncDir(path.dirname(file))
}

export async function fsyncDir(dir: string): Promise<void> {
  const fd = await afs.open(dir, 'r')
  try {
    await afs.fsync(fd)
  } finally {
    await afs.close(fd)
  }
}

/** Synchronous form for the repair tools and recovery steps that are synchronous anyway. */
export function fsyncDirSync(dir: string): void {
  const fd = fs.openSync(dir, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

// ---------------------------------------------------------------------------------------------
// Checkpoint: the recovery starting point. Two slots written alternately; the valid one with the
// higher generation wins, so a torn or missing slot costs only a longer scan, never correctness.

export interface Checkpoint {
  gen: number
  segBase: number // segment the scan starts in
  offset: number // byte offset in it: every group before is durable and accounted for below
  nextLsn: number // lsn of the group at `offset`
  catalogCount: number
  hwm: Record<string, string> // module → highest durable seq (decimal); with hwmGen: only the changes
  /** The module HWM snapshot (hwm.0|1) that `hwm` is a delta over (absent: `hwm` is complete). */
  hwmGen?: number
  /** Bytes of that snapshot file (its deltas appended since, hwm-file.ts) this checkpoint covers. */
  hwmBytes?: number
  maxRts?: number // max rts in segBase before offset (keeps time positioning exact)
  firstTs?: number // ts of segBase's first record, -1 if none
}

export function encodeCheckpoint(c: Checkpoint): string {
  const body = JSON.stringify(c)
  return JSON.stringify({ crc: crc32(body), body })
}

export function decodeCheckpoint(text: string): Checkpoint | undefined {
  try {
    const { crc, body } = JSON.parse(text) as { crc: number; body: string }
    if (typeof body !== 'string' || crc32(body) !== crc) return undefined
    const c = JSON.parse(body) as Checkpoint
    if (!Number.isSafeInteger(c.gen) || !Number.isSafeInteger(c.offset) || !Number.isSafeInteger(c.nextLsn)) {
      return undefined
    }
    return c
  } catch {
    return undefined
  }
}

export async function loadCheckpoint(dir: string): Promise<Checkpoint | undefined> {
  let best: Checkpoint | undefined
  for (const name of kCheckpointFiles) {
    let text: string
    try {
      text = await fs.promises.readFile(path.join(dir, name), 'utf8')
    } catch {
      continue
    }
    const c = decodeCheckpoint(text)
    if (c && (!best || c.gen > best.gen)) best = c
  }
  return best
}

/** Returns the bytes written. */
export async function storeCheckpoint(dir: string, c: Checkpoint, mode?: number): Promise<number> {
  const text = encodeCheckpoint(c)
  await writeFileAtomic(path.join(dir, kCheckpointFiles[c.gen % 2]!), text, true, mode)
  return Buffer.byteLength(text)
}

// ---------------------------------------------------------------------------------------------
// Durable watermark: 40 bytes pwritten in place after every commit; readers in any process poll or
// fs.watch it. A torn read fails the CRC and is retried.
//
//   u32 magic 'MIDW' | u32 crc32(bytes 8..40) | f64 durableLsn | f64 segBase | f64 endOffset | f64 epoch
//
// (segBase, endOffset) is where durable data ends: readers never read past it in that segment.

export const kWatermarkBytes = 40
const kWatermarkMagic = 0x5744494d // 'MIDW' little-endian

export interface Watermark {
  durableLsn: number
  segBase: number
  endOffset: number
  epoch: number
}

export function encodeWatermark(w: Watermark, into = Buffer.alloc(kWatermarkBytes)): Buffer {
  into.writeUInt32LE(kWatermarkMagic, 0)
  into.writeDoubleLE(w.durableLsn, 8)
  into.writeDoubleLE(w.segBase, 16)
  into.writeDoubleLE(w.endOffset, 24)
  into.writeDoubleLE(w.epoch, 32)
  into.writeUInt32LE(crc32(into.subarray(8, kWatermarkBytes)), 4)
  return into
}

export function decodeWatermark(b: Buffer): Watermark | undefined {
  if (b.length < kWatermarkBytes || b.readUInt32LE(0) !== kWatermarkMagic) return undefined
  if (crc32(b.subarray(8, kWatermarkBytes)) !== b.readUInt32LE(4)) return undefined
  return {
    durableLsn: b.readDoubleLE(8),
    segBase: b.readDoubleLE(16),
    endOffset: b.readDoubleLE(24),
    epoch: b.readDoubleLE(32),
  }
}

/** The watermark file's value, or undefined when it is missing or fails its CRC. */
export function readWatermarkFile(dir: string): Watermark | undefined {
  try {
    const b = fs.readFileSync(path.join(dir, kWatermarkFile))
    return decodeWatermark(b)
  } catch {
    return undefined
  }
}

/**
 * Lower the watermark for a repair (no writer runs): pwritten in place like the writer does, so
 * readers holding the file open see it, then fdatasynced before the caller cuts any data.
 */
export function rewriteWatermark(dir: string, w: Watermark): void {
  const fd = fs.openSync(path.join(dir, kWatermarkFile), 'r+')
  try {
    fs.writeSync(fd, encodeWatermark(w), 0, kWatermarkBytes, 0)
    fs.fdatasyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

// ---------------------------------------------------------------------------------------------
// Quarantine: damage in durable data that `recover-dump repair` recorded as known (an acknowledged
// loss). Informational: readers skip damaged groups by themselves and never skip an intact one,
// listed or not, so restoring a file restores its data.

export interface QuarantineEntry {
  segment: string
  offset: number
  reason: string
  detectedAtMs: number
  /** The lsns lost there, when known (verify's damage range). */
  fromLsn?: number
  toLsn?: number
}

export async function loadQuarantine(dir: string): Promise<QuarantineEntry[]> {
  try {
    const list = JSON.parse(await fs.promises.readFile(path.join(dir, kQuarantineFile), 'utf8'))
    return Array.isArray(list) ? (list as QuarantineEntry[]) : []
  } catch {
    return []
  }
}

/** Add (segment, offset) to the quarantine list unless it is already there. */
export async function addQuarantine(dir: string, entry: QuarantineEntry): Promise<void> {
  const list = await loadQuarantine(dir)
  if (list.some((e) => e.segment === entry.segment && e.offset === entry.offset)) return
  list.push(entry)
  await writeFileAtomic(path.join(dir, kQuarantineFile), JSON.stringify(list, null, 2))
}

/** Drop the entry for (segment, offset), e.g. after the segment file was restored. */
export async function removeQuarantine(dir: string, segment: string, offset: number): Promise<boolean> {
  const list = await loadQuarantine(dir)
  const left = list.filter((e) => !(e.segment === segment && e.offset === offset))
  if (left.length === list.length) return false
  await writeFileAtomic(path.join(dir, kQuarantineFile), JSON.stringify(left, null, 2))
  return true
}

// ---------------------------------------------------------------------------------------------
// Consumer groups: one file per group, `groups/<name>`, holding the next lsn to consume.

const kGroupName = /^[A-Za-z0-9._-]{1,128}$/

export function checkGroupName(name: string): void {
  if (typeof name !== 'string' || !kGroupName.test(name) || name.startsWith('.'))
    throw new MI_ERR_LOG_GROUP_INVALID(JSON.stringify(name))
}

export async function readGroup(dir: string, name: string): Promise<number | undefined> {
  checkGroupName(name)
  try {
    const text = await fs.promises.readFile(path.join(dir, kGroupsDir, name), 'utf8')
    const { nextLsn } = JSON.parse(text) as { nextLsn: number }
    return Number.isSafeInteger(nextLsn) && nextLsn >= 1 ? nextLsn : undefined
  } catch {
    return undefined
  }
}

export async function writeGroup(dir: string, name: string, nextLsn: number): Promise<void> {
  checkGroupName(name)
  const gdir = path.join(dir, kGroupsDir)
  if (!fs.existsSync(gdir)) {
    // A new directory is an entry of its parent: sync that too, or a power cut can lose groups/.
    await afs.mkdir(gdir, { recursive: true, mode: fs.statSync(dir).mode & 0o777 })
    await fsyncDir(dir)
  }
  await writeFileAtomic(path.join(gdir, name), JSON.stringify({ nextLsn, updatedAtMs: Date.now() }))
}

export async function listGroups(dir: string): Promise<{ name: string; nextLsn: number }[]> {
  let names: string[]
  try {
    names = await fs.promises.readdir(path.join(dir, kGroupsDir))
  } catch {
    return []
  }
  const out: { name: string; nextLsn: number }[] = []
  for (const name of names.sort()) {
    if (name.includes('.tmp-') || !kGroupName.test(name)) continue
    const nextLsn = await readGroup(dir, name)
    if (nextLsn !== undefined) out.push({ name, nextLsn })
  }
  return out
}

export function readGroupSync(dir: string, name: string): number | undefined {
  checkGroupName(name)
  try {
    const { nextLsn } = JSON.parse(fs.readFileSync(path.join(dir, kGroupsDir, name), 'utf8')) as {
      nextLsn: number
    }
    return Number.isSafeInteger(nextLsn) && nextLsn >= 1 ? nextLsn : undefined
  } catch {
    return undefined
  }
}

export function listGroupsSync(dir: string): { name: string; nextLsn: number }[] {
  let names: string[]
  try {
    names = fs.readdirSync(path.join(dir, kGroupsDir))
  } catch {
    return []
  }
  const out: { name: string; nextLsn: number }[] = []
  for (const name of names.sort()) {
    if (name.includes('.tmp-') || !kGroupName.test(name)) continue
    const nextLsn = readGroupSync(dir, name)
    if (nextLsn !== undefined) out.push({ name, nextLsn })
  }
  return out
}
