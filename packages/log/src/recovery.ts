// Recovery: make the directory consistent before the writer accepts appends. Cost is bounded by the
// data written since the last checkpoint (plus one read of the active segment's live index), never
// by the total log size. See the design header in index.ts.
import fs from 'node:fs'
import path from 'node:path'
import { kCatalogFile, kCatalogMagic, parseCatalog } from './catalog.ts'
import type { FlushPolicy } from './config.ts'
import { MI_ERR_LOG_CORRUPT } from './errors.ts'
import { encodeSegmentHeader, forEachBatch, indexName, kSegmentHeaderBytes, segmentName } from './format.ts'
import { addQuarantine, type Checkpoint, fsyncDir, loadCheckpoint, readWatermarkFile } from './meta.ts'
import { findNextGroup } from './scan.ts'
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
  catalogNames: string[]
  catalogFd: number
  catalogBytes: number
  checkpointGen: number
  report: RecoveryReport
}

async function openCatalog(dir: string): Promise<{ fd: number; names: string[]; bytes: number }> {
  const file = path.join(dir, kCatalogFile)
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644)
  const buf = await fs.promises.readFile(file)
  let { names, validBytes } = parseCatalog(buf)
  if (validBytes === 0) {
    fs.ftruncateSync(fd, 0)
    fs.writeSync(fd, kCatalogMagic, 0, kCatalogMagic.length, 0)
    validBytes = kCatalogMagic.length
    names = []
    fs.fdatasyncSync(fd)
  } else if (validBytes < buf.length) {
    // A torn last entry: never referenced (entries are synced before the groups that use them).
    fs.ftruncateSync(fd, validBytes)
    fs.fdatasyncSync(fd)
  }
  return { fd, names, bytes: validBytes }
}

/** Why a bad group at `offset` of the active segment is not a torn tail, or undefined if it may be one. */
async function midSegmentDamage(
  dir: string,
  fd: number,
  base: number,
  offset: number,
  size: number,
  expectLsn: number,
  flush: FlushPolicy,
): Promise<string | undefined> {
  if (flush === 'always') {
    // The watermark is written only after the fdatasync covering it returned: a lower bound of
    // what was durable (under the weaker policies it may run ahead of the disk after a power cut).
    const wm = readWatermarkFile(dir)
    if (wm && wm.segBase === base && wm.endOffset > offset)
      return `it lies before the durable end (offset ${wm.endOffset})`
  }
  const next = await findNextGroup(fd, offset, size, expectLsn)
  if (next !== undefined) return `an intact group follows at offset ${next}`
  return undefined
}

export async function recover(
  dir: string,
  indexIntervalBytes: number,
  flush: FlushPolicy = 'always',
): Promise<Recovered> {
  const t0 = performance.now()
  await fs.promises.mkdir(dir, { recursive: true })
  const catalog = await openCatalog(dir)
  let bases = await listSegmentBases(dir)
  const cp = await loadCheckpoint(dir)
  const report: RecoveryReport = {
    checkpoint: 'used',
    scannedBytes: 0,
    scannedSegments: 0,
    corruptions: [],
    durationMs: 0,
  }

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
    const fd = fs.openSync(path.join(dir, segmentName(base)), 'wx+')
    fs.writeSync(fd, encodeSegmentHeader(base), 0, kSegmentHeaderBytes, 0)
    fs.fdatasyncSync(fd)
    fs.closeSync(fd)
    await fsyncDir(dir)
    bases = [base]
    if (start && start.segBase !== base) start = undefined
  }

  const hwm = new Map<string, bigint>()
  for (const [m, s] of Object.entries(start?.hwm ?? cp?.hwm ?? {})) hwm.set(m, BigInt(s))
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
    const build = await buildIndexByScan(fd, size, indexIntervalBytes, seed, (g, body) => {
      const h = g.header
      if (h.baseLsn !== expect) return `lsn discontinuity: expected ${expect}, group has ${h.baseLsn}`
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
    })
    report.scannedSegments++
    report.scannedBytes += build.stop.offset - seed.offset
    nextLsn = expect
    if (build.stop.reason !== undefined && build.stop.offset < size) {
      if (isLast) {
        // A crash tears only what follows the last fdatasync. Damage with intact groups after it,
        // or (under 'always') before the published durable end, is corruption of acknowledged
        // data: truncating would drop it silently, so refuse and leave the decision to repair.
        const damage = await midSegmentDamage(dir, fd, base, build.stop.offset, size, expect, flush)
        if (damage) {
          fs.closeSync(fd)
          fs.closeSync(catalog.fd)
          throw new MI_ERR_LOG_CORRUPT(
            name,
            build.stop.offset,
            `${build.stop.reason}; ${damage}, so this is not a torn tail: refusing to truncate ` +
              'acknowledged records. Run `module-ingest-recover-dump repair` (it shows what a repair ' +
              'drops and keeps the cut bytes aside) or restore the segment from a backup',
          )
        }
        report.truncated = {
          segment: name,
          offset: build.stop.offset,
          droppedBytes: size - build.stop.offset,
          reason: build.stop.reason,
        }
        fs.ftruncateSync(fd, build.stop.offset)
      } else {
        const c = { segment: name, offset: build.stop.offset, reason: build.stop.reason }
        report.corruptions.push(c)
        await addQuarantine(dir, { ...c, detectedAtMs: Date.now() })
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
    report: { ...report, durationMs: performance.now() - t0 },
  }
}
