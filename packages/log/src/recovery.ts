// Recovery: make the directory consistent before the writer accepts appends. Cost is bounded by the
// data written since the last checkpoint (plus one read of the active segment's live index), never
// by the total log size. See the design header in index.ts.

import path from 'node:path'
import type { CatalogNames } from './catalog.ts'
import { extendCatalog, openCatalog } from './catalog-rebuild.ts'
import { MI_ERR_LOG_CORRUPT } from './errors.ts'
import { encodeSegmentHeader, forEachBatch, indexName, kSegmentHeaderBytes, segmentName } from './format.ts'
import { afs, fs } from './fsio.ts'
import { loadHwmSnapshot } from './hwm-file.ts'
import { pidAlive } from './lock.ts'
import { type Checkpoint, fsyncDir, kGroupsDir, loadCheckpoint, readWatermarkFile } from './meta.ts'
import { findNextGroup, peekGroupBaseLsn, readAt, type ScannedGroup } from './scan.ts'
import { sealAtDamage } from './seal.ts'
import {
  buildIndexByScan,
  emptySeed,
  type IndexBuildSeed,
  listSegmentBases,
  readSegmentHeader,
} from './segments.ts'
import { type IndexEntry, loadIndex } from './sparse-index.ts'

export interface RecoveryReport {
  checkpoint: 'used' | 'missing' | 'invalid'
  scannedBytes: number
  scannedSegments: number
  truncated?: { segment: string; offset: number; droppedBytes: number; reason: string }
  corruptions: { segment: string; offset: number; reason: string }[]
  durationMs: number
  /** 'rebuilt': the catalog file was missing or unreadable and was rebuilt from the segments. */
  catalog?: 'rebuilt'
  /**
   * Damage in the middle of the active segment with intact groups after it: the segment was sealed
   * there (nothing cut; readers skip the damage with a gap) and a new one starts at `nextBase`.
   * `fromLsn..toLsn`: the intact records after the damage that were kept.
   */
  sealed?: { segment: string; offset: number; nextBase: number; fromLsn: number; toLsn: number }
  /** Leftover `*.tmp-*` files of dead processes removed at open (relative paths). */
  removedTmpFiles?: string[]
}

export interface Recovered {
  bases: number[] // all segments, ascending; the last is active
  activeBase: number
  activeFd: number
  activeSize: number
  activeEntries: IndexEntry[]
  activeLastIndexed: number
  activeMaxRts: number
  activeFirstTs: number
  nextLsn: number
  hwm: Map<string, bigint>
  catalogNames: CatalogNames
  catalogFd: number
  catalogBytes: number
  checkpointGen: number
  /** The HWM snapshot the last checkpoint used (undefined: none yet). */
  hwmGen: number | undefined
  report: RecoveryReport
}

/**
 * Remove `*.tmp-<pid>-<n>` and `writer.pid.stale-*` files left by a process that died (ENOSPC in
 * the middle of an atomic write, SIGKILL): in the log directory and in groups/. A live pid's tmp
 * file (a reader committing a consumer group right now) is left alone.
 */
export function sweepTmpFiles(dir: string): string[] {
  const removed: string[] = []
  for (const d of [dir, path.join(dir, kGroupsDir)]) {
    let names: string[]
    try {
      names = fs.readdirSync(d)
    } catch {
      continue
    }
    for (const n of names) {
      const m = /\.(?:tmp|stale)-(\d+)-\d+$/.exec(n)
      if (!m) continue
      const pid = Number(m[1])
      if (pidAlive(pid)) continue // ours included: a reader of this process may be committing
      fs.rmSync(path.join(d, n), { force: true })
      removed.push(path.relative(dir, path.join(d, n)))
    }
  }
  return removed
}

/**
 * Why a bad group at `offset` of the active segment, with nothing intact after it, is not a torn
 * tail (undefined if it may be one).
 */
function midSegmentDamage(
  dir: string,
  base: number,
  offset: number,
  watermarkOnDisk: boolean,
): string | undefined {
  if (watermarkOnDisk) {
    // Under a policy that syncs every commit (flush-policy.ts syncsCommits) the watermark is written
    // only after the fdatasync covering it returned: a lower bound of what was durable (under the
    // weaker policies it may run ahead of the disk after a power cut).
    const wm = readWatermarkFile(dir)
    if (wm && wm.segBase === base && wm.endOffset > offset)
      return `it lies before the durable end (offset ${wm.endOffset})`
  }
  return undefined
}

export interface RecoverOptions {
  indexIntervalBytes: number
  /** The flush policy syncs every commit: the published watermark never runs ahead of the disk. */
  watermarkOnDisk: boolean
  /** Mode of the files recovery creates (the first segment, a rebuilt catalog). */
  fileMode: number
}

export async function recover(dir: string, o: RecoverOptions): Promise<Recovered> {
  const { indexIntervalBytes, watermarkOnDisk, fileMode } = o
  const t0 = performance.now()
  await afs.mkdir(dir, { recursive: true })
  const report: RecoveryReport = {
    checkpoint: 'used',
    scannedBytes: 0,
    scannedSegments: 0,
    corruptions: [],
    durationMs: 0,
  }
  const removed = sweepTmpFiles(dir)
  if (removed.length > 0) report.removedTmpFiles = removed
  let bases = await listSegmentBases(dir)
  const catalog = await openCatalog(dir, bases, report, fileMode)
  const catalogLoaded = catalog.names.length
  const cp = await loadCheckpoint(dir)

  let start: Checkpoint | undefined = cp
  if (!cp) report.checkpoint = 'missing'
  else if (
    !bases.includes(cp.segBase) ||
    cp.offset < kSegmentHeaderBytes ||
    cp.offset > fs.statSync(path.join(dir, segmentName(cp.segBase))).size ||
    cp.catalogCount > catalog.names.length
  ) {
    // Stale (points past what exists) or from another log: fall back to a full scan, which is
    // slower but rebuilds everything the checkpoint would have told us.
    report.checkpoint = 'invalid'
    start = undefined
  }

  if (bases.length === 0) {
    const base = start?.nextLsn ?? cp?.nextLsn ?? 1
    const fd = fs.openSync(path.join(dir, segmentName(base)), 'wx+', fileMode)
    fs.writeSync(fd, encodeSegmentHeader(base), 0, kSegmentHeaderBytes, 0)
    fs.fdatasyncSync(fd)
    fs.closeSync(fd)
    await fsyncDir(dir)
    bases = [base]
    if (start && start.segBase !== base) start = undefined
  }

  const hwm = new Map<string, bigint>()
  if (start?.hwmGen !== undefined && !(await loadHwmSnapshot(dir, start.hwmGen, start.hwmBytes))) {
    report.checkpoint = 'invalid' // its snapshot was replaced: scan further instead
    start = undefined
  }
  // Seed: the checkpoint's snapshot (or the newest readable one) and its changes. A full scan then
  // raises them; modules whose segments retention deleted keep their HWM from here.
  const snap = await loadHwmSnapshot(dir, start?.hwmGen, start?.hwmBytes)
  for (const [m, s] of Object.entries(snap?.hwm ?? {})) hwm.set(m, BigInt(s))
  for (const [m, s] of Object.entries(start?.hwm ?? cp?.hwm ?? {})) {
    const v = BigInt(s)
    if ((hwm.get(m) ?? -1n) < v) hwm.set(m, v)
  }
  let firstIdx = start ? bases.indexOf(start.segBase) : 0
  if (firstIdx < 0) firstIdx = 0
  let nextLsn = start ? start.nextLsn : bases[firstIdx]!
  const names = catalog.names

  let activeFd = -1
  let activeSize = 0
  let activeSeed: IndexBuildSeed = emptySeed()
  let activeBuild: Awaited<ReturnType<typeof buildIndexByScan>> | undefined

  for (let i = firstIdx; i < bases.length; i++) {
    const base = bases[i]!
    const name = segmentName(base)
    const file = path.join(dir, name)
    const isLast = i === bases.length - 1
    const fd = fs.openSync(file, isLast ? 'r+' : 'r')
    const size = fs.fstatSync(fd).size
    const header = await readSegmentHeader(fd)
    if (header !== base) {
      if (isLast) {
        // The segment was being created when we died (or its header is unreadable): start it over.
        report.truncated = { segment: name, offset: 0, droppedBytes: size, reason: 'bad segment header' }
        fs.ftruncateSync(fd, 0)
        fs.writeSync(fd, encodeSegmentHeader(base), 0, kSegmentHeaderBytes, 0)
        fs.fdatasyncSync(fd)
        activeFd = fd
        activeSize = kSegmentHeaderBytes
        nextLsn = base
        break
      }
      report.corruptions.push({ segment: name, offset: 0, reason: 'bad segment header' })
      fs.closeSync(fd)
      nextLsn = bases[i + 1]!
      continue
    }
    if (base !== nextLsn && i > firstIdx) {
      report.corruptions.push({
        segment: name,
        offset: 0,
        reason: `lsn gap: expected ${nextLsn}, segment starts at ${base}`,
      })
      nextLsn = base
    }
    let seed: IndexBuildSeed = emptySeed()
    if (i === firstIdx && start) {
      seed = { ...emptySeed(), offset: start.offset, lastLsn: start.nextLsn - 1 }
      if (isLast) {
        // Entries before the scan start come from the live index file (hints, written only for durable groups).
        const live = await loadIndex(path.join(dir, indexName(base)))
        const kept = (live?.entries ?? []).filter((e) => e.offset < start!.offset && e.lsn < start!.nextLsn)
        seed.entries = kept
        seed.lastIndexedOffset = kept.at(-1)?.offset ?? -Infinity
        seed.maxRts = start.maxRts ?? -1
        seed.firstTs = start.firstTs ?? -1
      }
    }
    let expect = nextLsn
    const onGroup = (g: ScannedGroup, body: Uint8Array): string | undefined => {
      const h = g.header
      if (h.baseLsn !== expect) return `lsn discontinuity: expected ${expect}, group has ${h.baseLsn}`
      if (h.names) {
        // Names the catalog file lost (not synced before a power cut under 'interval'/'none').
        for (const [k, n] of h.names.names.entries()) {
          const id = h.names.firstId + k
          // '' declares a dropped id (catalog-compact.ts): a hole, never a name. A hole in the
          // catalog that an older group still declares was dropped after that group: no match needed.
          const had = names[id - 1]
          if (id === names.length + 1) names.push(n === '' ? undefined : n)
          else if (id <= names.length && n !== '' && had !== undefined && had !== n)
            return `catalog mismatch: group declares id ${id} as ${JSON.stringify(n)}, catalog has ${JSON.stringify(names[id - 1])}`
        }
      }
      let bad: string | undefined
      forEachBatch(h, body, (b) => {
        const m = names[b.moduleId - 1]
        if (m === undefined || (names[b.coreId - 1] === undefined && b.coreId !== 0))
          bad = `unknown catalog id`
        for (const r of b.records) if (names[r.streamId - 1] === undefined) bad = 'unknown catalog id'
        if (bad) return false
        const prev = hwm.get(m!)
        if (prev === undefined || b.seq > prev) hwm.set(m!, b.seq)
        return true
      })
      if (bad) return bad
      expect = h.baseLsn + h.count
      return undefined
    }
    const build = await buildIndexByScan(fd, size, indexIntervalBytes, seed, onGroup)
    report.scannedSegments++
    report.scannedBytes += build.stop.offset - seed.offset
    // Past damage, the intact groups still count (module HWMs, declared names) and are kept.
    const damage: { offset: number; reason: string; intactAfter: boolean }[] = []
    if (build.stop.reason !== undefined && build.stop.offset < size) {
      let at = build.stop.offset
      let reason = build.stop.reason
      for (;;) {
        const next = await findNextGroup(fd, at, size, expect, base + size)
        damage.push({ offset: at, reason, intactAfter: next !== undefined })
        if (next === undefined) break
        expect = peekGroupBaseLsn(await readAt(fd, next, 32))
        const more = await buildIndexByScan(
          fd,
          size,
          indexIntervalBytes,
          { ...emptySeed(), offset: next },
          onGroup,
        )
        report.scannedBytes += more.stop.offset - next
        if (more.stop.reason === undefined || more.stop.offset >= size) break
        at = more.stop.offset
        reason = more.stop.reason
      }
    }
    if (isLast && damage[0]?.intactAfter) {
      // Not a torn tail: intact groups follow the damage. Cutting would drop them, so the segment
      // is sealed as it is (seal.ts) and a new one starts after its last intact group.
      fs.closeSync(fd)
      const sealed = await sealAtDamage(dir, base, fileMode)
      if (!sealed)
        throw new MI_ERR_LOG_CORRUPT(
          name,
          damage[0].offset,
          `${damage[0].reason}; could not seal the segment there`,
        )
      for (const d of sealed.damage)
        report.corruptions.push({ segment: name, offset: d.offset, reason: d.reason })
      report.sealed = {
        segment: name,
        offset: damage[0].offset,
        nextBase: sealed.nextBase,
        ...sealed.keptAfterDamage,
      }
      bases.push(sealed.nextBase)
      nextLsn = sealed.nextBase
      continue
    }
    nextLsn = expect
    if (damage.length > 0) {
      if (isLast) {
        // A crash tears only what follows the last fdatasync. Damage with intact groups after it,
        // or (under 'always') before the published durable end, is corruption of acknowledged
        // data: truncating would drop it silently, so refuse and leave the decision to repair.
        const why = midSegmentDamage(dir, base, build.stop.offset, watermarkOnDisk)
        if (why) {
          fs.closeSync(fd)
          fs.closeSync(catalog.fd)
          throw new MI_ERR_LOG_CORRUPT(
            name,
            build.stop.offset,
            `${damage[0]!.reason}; ${why}, so this is not a torn tail: refusing to truncate ` +
              'acknowledged records. Run `module-ingest-recover-dump repair` (it shows what a repair ' +
              'drops and keeps the cut bytes aside) or restore the segment from a backup',
          )
        }
        report.truncated = {
          segment: name,
          offset: build.stop.offset,
          droppedBytes: size - build.stop.offset,
          reason: damage[0]!.reason,
        }
        fs.ftruncateSync(fd, build.stop.offset)
      } else {
        // Reported, never quarantined: readers skip the bad group with an accounted gap and still
        // serve every intact group after it (cursor.ts); `recover-dump verify` lists it.
        for (const d of damage) report.corruptions.push({ segment: name, offset: d.offset, reason: d.reason })
        nextLsn = bases[i + 1]!
      }
    }
    if (isLast) {
      // Everything recovery keeps must be on disk before we call it durable.
      fs.fdatasyncSync(fd)
      activeFd = fd
      activeSize = build.stop.offset
      activeSeed = seed
      activeBuild = build
    } else fs.closeSync(fd)
  }

  extendCatalog(catalog, catalogLoaded)
  const activeBase = bases.at(-1)!
  return {
    bases,
    activeBase,
    activeFd,
    activeSize,
    activeEntries: activeBuild?.entries ?? activeSeed.entries,
    activeLastIndexed: activeBuild?.lastIndexedOffset ?? activeSeed.lastIndexedOffset,
    activeMaxRts: activeBuild?.summary.maxRts ?? activeSeed.maxRts,
    activeFirstTs: activeBuild?.summary.firstTs ?? activeSeed.firstTs,
    nextLsn,
    hwm,
    catalogNames: names,
    catalogFd: catalog.fd,
    catalogBytes: catalog.bytes,
    checkpointGen: cp?.gen ?? 0,
    hwmGen: snap?.gen,
    report: { ...report, durationMs: performance.now() - t0 },
  }
}
