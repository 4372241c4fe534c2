// Catalog compaction (issue 11 item 3): a name that no retained segment uses and no live module or
// unwritten group holds leaves the catalog file and the writer's memory. Ids are never reused: a
// dropped id becomes a hole (catalog.ts), so no old data can be attributed to another name, and a
// name that comes back gets a new id.
//
// Which ids a segment uses is recorded when it is sealed, in `<base>.ids` beside it
//   "MISEGID1" | u32 crc32(rest) | u32 count | u32 id × count   (sorted)
// written like the sealed index (write-new + fsync + rename, no dir fsync: a lost or torn one is
// rebuilt by scanning the segment, and then written again). The active segment's ids are kept in
// memory from the first group on; after a restart, its part written before the restart is scanned.
//
// The rewrite is crash-safe: the new file (the kept names, holes for the dropped) is written,
// fdatasync'ed, renamed over `catalog`, and the directory fsync'ed, all through the log's file layer
// (fault-fs.ts in the power-loss test). The old file names a superset of the new one, so whichever a
// crash leaves reads every retained segment. Names persisted while the new file was being written
// are appended to it in the same synchronous step as the rename.
import path from 'node:path'
import { crc32 } from 'node:zlib'
import { kCatalogFile, kCatalogMagic } from './catalog.ts'
import { forEachBatch, groupBody, kSegmentHeaderBytes, segmentName } from './format.ts'
import { afs, fs } from './fsio.ts'
import { fsyncDirSync, writeFileAtomic } from './meta.ts'
import type { NameCatalog } from './names.ts'
import { scanReadableGroups } from './scan.ts'

const kIdsMagic = Buffer.from('MISEGID1', 'latin1')

export function idsName(base: number): string {
  return `${String(base).padStart(20, '0')}.ids`
}

export function encodeSegmentIds(ids: Iterable<number>): Buffer {
  const sorted = Uint32Array.from(ids).sort()
  const b = Buffer.alloc(16 + sorted.length * 4)
  kIdsMagic.copy(b, 0)
  b.writeUInt32LE(sorted.length, 12)
  Buffer.from(sorted.buffer, sorted.byteOffset, sorted.byteLength).copy(b, 16)
  b.writeUInt32LE(crc32(b.subarray(12)), 8)
  return b
}

export function decodeSegmentIds(b: Buffer): Uint32Array | undefined {
  if (b.length < 16 || !b.subarray(0, 8).equals(kIdsMagic)) return undefined
  if (crc32(b.subarray(12)) !== b.readUInt32LE(8)) return undefined
  const n = b.readUInt32LE(12)
  if (b.length !== 16 + n * 4) return undefined
  const out = new Uint32Array(n)
  for (let i = 0; i < n; i++) out[i] = b.readUInt32LE(16 + i * 4)
  return out
}

export function readSegmentIdsSync(dir: string, base: number): Uint32Array | undefined {
  try {
    return decodeSegmentIds(fs.readFileSync(path.join(dir, idsName(base))))
  } catch {
    return undefined
  }
}

export async function writeSegmentIds(dir: string, base: number, ids: Iterable<number>, mode?: number) {
  await writeFileAtomic(path.join(dir, idsName(base)), encodeSegmentIds(ids), false, mode)
}

/** The ids the groups in [16, end) of segment `base` use (module, core, streams); damaged ranges skipped. */
export async function scanSegmentIds(dir: string, base: number, end = Infinity): Promise<Set<number>> {
  const used = new Set<number>()
  const fd = fs.openSync(path.join(dir, segmentName(base)), 'r')
  try {
    const size = Math.min(end, fs.fstatSync(fd).size)
    await scanReadableGroups(fd, base, kSegmentHeaderBytes, size, (g) => {
      forEachBatch(g.header, groupBody(g.payload, g.restPos, g.header.flags), (b) => {
        used.add(b.moduleId)
        if (b.coreId !== 0) used.add(b.coreId)
        for (const r of b.records) used.add(r.streamId)
        return true
      })
      return true
    })
  } finally {
    fs.closeSync(fd)
  }
  return used
}

/** What compaction needs from the writer, read at its synchronous decision point. */
export interface CompactHost {
  dir: string
  fileMode: number
  names: NameCatalog
  /** Sealed segments retained now. */
  sealed(): number[]
  /** The active segment: base, ids used by groups written since `from`, and `from`. */
  active(): { base: number; used: ReadonlySet<number>; from: number }
  /** Ids of groups not yet written. */
  pendingIds(): number[]
  /** Modules whose marks are in memory (live modules). */
  liveModules(): Iterable<string>
  /** False once the writer failed or closed (the rewrite is abandoned). */
  open(): boolean
}

export interface CompactResult {
  dropped: number
  kept: number
  bytesBefore: number
  bytesAfter: number
  durationMs: number
}

/** Below this many droppable ids (and a quarter of the catalog) the rewrite is not worth it. */
export const kCompactMinDrop = 1024

/**
 * Drop the names no retained segment, live module or pending group uses. Returns undefined when
 * there is too little to drop or the writer stopped meanwhile.
 */
export async function compactCatalog(
  h: CompactHost,
  minDrop = kCompactMinDrop,
): Promise<CompactResult | undefined> {
  const t0 = performance.now()
  const { dir, names } = h
  // 1. The sealed segments' ids (sidecars, or a scan that writes the missing sidecar).
  const keep = new Uint8Array(names.size + 1)
  const seen = new Set<number>()
  const mark = (ids: Iterable<number>) => {
    for (const id of ids) if (id < keep.length) keep[id] = 1
  }
  for (const base of h.sealed()) {
    let ids: Iterable<number> | undefined = readSegmentIdsSync(dir, base)
    if (!ids) {
      try {
        ids = await scanSegmentIds(dir, base)
      } catch {
        continue // deleted meanwhile by retention (it is the caller) or unreadable: see step 2
      }
      await writeSegmentIds(dir, base, ids, h.fileMode).catch(() => {})
    }
    mark(ids)
    seen.add(base)
  }
  // The part of the active segment written before this process opened it.
  const first = h.active()
  const scannedActive =
    first.from > kSegmentHeaderBytes ? await scanSegmentIds(dir, first.base, first.from) : undefined
  if (!h.open()) return undefined

  // 2. Synchronously: what else is in use, and what goes.
  for (const base of h.sealed()) {
    if (seen.has(base)) continue
    const ids = readSegmentIdsSync(dir, base)
    if (ids) mark(ids)
    else if (base === first.base) {
      // Sealed during step 1 (without a sidecar, as it was not all written by this process).
      if (scannedActive) mark(scannedActive)
      mark(first.used)
    } else return undefined // sealed meanwhile without a sidecar: the next pass scans it
  }
  const act = h.active()
  if (act.base === first.base) {
    if (scannedActive) mark(scannedActive)
  } else if (act.from > kSegmentHeaderBytes) return undefined
  mark(act.used)
  mark(h.pendingIds())
  for (const m of h.liveModules()) {
    const id = names.id(m)
    if (id !== undefined) keep[id] = 1
  }
  const drop: number[] = []
  for (let id = 1; id <= names.persisted && id < keep.length; id++)
    if (keep[id] === 0 && names.name(id) !== undefined) drop.push(id)
  const total = drop.length + countLive(names)
  if (drop.length === 0 || (drop.length < minDrop && drop.length * 4 < total)) return undefined
  const { bytes, persisted } = names.detach(drop)

  // 3. The new file: written and fdatasync'ed under a temporary name.
  const file = path.join(dir, kCatalogFile)
  const tmp = `${file}.tmp-${process.pid}-compact`
  const bytesBefore = names.bytes
  let fd = -1
  try {
    fd = await afs.open(tmp, 'w+', h.fileMode)
    const head = Buffer.concat([kCatalogMagic, bytes])
    for (let off = 0; off < head.length; ) off += await afs.write(fd, head.subarray(off), off)
    await afs.fdatasync(fd)
    // 4. Between async persists: append what was persisted meanwhile, rename, fsync the directory.
    while (names.persisting > 0 && h.open()) await new Promise((r) => setImmediate(r))
    if (!h.open()) throw new Error('log closed')
    const more = names.entriesSince(persisted)
    if (more.length > 0) {
      fs.writeSync(fd, more, 0, more.length, head.length)
      fs.fdatasyncSync(fd)
    }
    fs.renameSync(tmp, file)
    fsyncDirSync(dir)
    const old = names.fd
    names.swap(fd, head.length + more.length, drop)
    fd = -1
    retire(old)
  } catch {
    names.undrop(drop)
    if (fd >= 0) fs.closeSync(fd)
    fs.rmSync(tmp, { force: true })
    return undefined
  }
  return {
    dropped: drop.length,
    kept: countLive(names),
    bytesBefore,
    bytesAfter: names.bytes,
    durationMs: performance.now() - t0,
  }
}

function countLive(names: NameCatalog): number {
  let n = 0
  for (let id = 1; id <= names.size; id++) if (names.name(id) !== undefined) n++
  return n
}

// The old catalog fd may still be in a checkpoint's list of fds to settle (checkpointer.ts): it is
// closed a little later instead of now, so its number is not reused under that fdatasync.
function retire(fd: number): void {
  setTimeout(() => {
    try {
      fs.closeSync(fd)
    } catch {}
  }, 10_000).unref()
}
