// Raw segment access for inspect / verify / repair tools (apps/recover-dump). listSegments,
// scanSegment, verifyLog and readSegment are read-only and safe beside a running writer. The ones
// that change files (truncateSegmentTail, quarantineSegment, rebuildIndex) refuse with
// MI_ERR_LOG_LOCKED while a live process other than our own repair lock holds writer.pid: take
// acquireRepairLock(dir) first so that no server starts while they run.

import path from 'node:path'
import { CatalogView, kCatalogFile } from './catalog.ts'
import { forEachBatch, groupBody, indexName, kSegmentHeaderBytes, segmentName } from './format.ts'
import { fs } from './fsio.ts'
import type { LogGap } from './gap.ts'
import { assertNoWriter } from './lock.ts'
import {
  addQuarantine,
  type Checkpoint,
  decodeCheckpoint,
  fsyncDir,
  kCheckpointFiles,
  listGroups,
  type QuarantineEntry,
  readWatermarkFile,
  removeQuarantine,
  rewriteWatermark,
  writeFileAtomic,
  writeGroup,
} from './meta.ts'
import type { StoredRecord } from './reader.ts'
import { findNextGroup, peekGroupBaseLsn, readAt, scanGroups } from './scan.ts'
import { buildIndexByScan, emptySeed, listSegmentBases, readSegmentHeader } from './segments.ts'
import { encodeEntry, encodeSealedIndex, kIndexMagic, loadIndex } from './sparse-index.ts'

export interface SegmentInfo {
  base: number
  name: string
  path: string
  sizeBytes: number
  /** A later segment exists (so this one is complete). */
  sealed: boolean
  index: 'sealed' | 'live' | 'missing'
  firstLsn: number
  /** From the sealed index or the next segment's base; undefined for the active segment. */
  lastLsn: number | undefined
  maxRtsUs: number | undefined
}

export async function listSegments(dir: string): Promise<SegmentInfo[]> {
  const bases = await listSegmentBases(dir)
  const out: SegmentInfo[] = []
  for (let i = 0; i < bases.length; i++) {
    const base = bases[i]!
    const name = segmentName(base)
    const file = path.join(dir, name)
    let sizeBytes = 0
    try {
      sizeBytes = (await fs.promises.stat(file)).size
    } catch {
      continue
    }
    const idx = await loadIndex(path.join(dir, indexName(base)))
    const sealed = i < bases.length - 1
    out.push({
      base,
      name,
      path: file,
      sizeBytes,
      sealed,
      index: idx?.sealed ? 'sealed' : idx ? 'live' : 'missing',
      firstLsn: base,
      lastLsn: idx?.sealed?.lastLsn ?? (sealed ? bases[i + 1]! - 1 : undefined),
      maxRtsUs: idx?.sealed && idx.sealed.maxRts >= 0 ? idx.sealed.maxRts : undefined,
    })
  }
  return out
}

export interface SegmentScan {
  segment: string
  base: number
  sizeBytes: number
  groups: number
  records: number
  firstLsn: number | undefined
  lastLsn: number | undefined
  /** End of the run of valid groups from the segment start (where a truncation may cut). */
  validBytes: number
  /** The first damage (kept for callers that look at one). */
  corruption?: { segment: string; offset: number; reason: string }
  /** Every damaged range: the scan goes on at the next intact group, like readers do. */
  damage: LogGap[]
}

export interface ScanOptions {
  /** Called with bytes scanned so far in this segment and its size. */
  onProgress?: (scannedBytes: number, totalBytes: number) => void
}

/** Full CRC scan of one segment, past damage. Reports bad groups (segment + offset) instead of throwing. */
export async function scanSegment(dir: string, base: number, opts: ScanOptions = {}): Promise<SegmentScan> {
  const name = segmentName(base)
  const fd = fs.openSync(path.join(dir, name), 'r')
  try {
    const size = fs.fstatSync(fd).size
    const res: SegmentScan = {
      segment: name,
      base,
      sizeBytes: size,
      groups: 0,
      records: 0,
      firstLsn: undefined,
      lastLsn: undefined,
      validBytes: 0,
      damage: [],
    }
    if ((await readSegmentHeader(fd)) !== base) {
      res.corruption = { segment: name, offset: 0, reason: 'bad segment header' }
      res.damage.push({
        segment: name,
        offset: 0,
        resumeOffset: size,
        fromLsn: base,
        toLsn: undefined,
        records: undefined,
        reason: 'bad segment header',
      })
      return res
    }
    let expect = base
    let offset = kSegmentHeaderBytes
    for (;;) {
      const b = await buildIndexByScan(
        fd,
        size,
        64 * 1024,
        { ...emptySeed(), offset },
        (g) => {
          if (g.header.baseLsn !== expect)
            return `lsn discontinuity: expected ${expect}, group has ${g.header.baseLsn}`
          expect = g.header.baseLsn + g.header.count
          res.firstLsn ??= g.header.baseLsn
          res.lastLsn = expect - 1
          return undefined
        },
        (off) => opts.onProgress?.(off, size),
      )
      res.groups += b.groups
      res.records += b.records
      if (res.damage.length === 0) res.validBytes = b.stop.offset
      if (b.stop.reason === undefined || b.stop.offset >= size) break
      res.corruption ??= { segment: name, offset: b.stop.offset, reason: b.stop.reason }
      const next = await findNextGroup(fd, b.stop.offset, size, expect, base + size)
      const d: LogGap = {
        segment: name,
        offset: b.stop.offset,
        resumeOffset: next ?? size,
        fromLsn: expect,
        toLsn: undefined,
        records: undefined,
        reason: b.stop.reason,
      }
      res.damage.push(d)
      if (next === undefined) break
      const nextLsn = peekGroupBaseLsn(await readAt(fd, next, 32))
      d.toLsn = nextLsn - 1
      d.records = nextLsn - d.fromLsn
      expect = nextLsn
      offset = next
    }
    opts.onProgress?.(size, size)
    return res
  } finally {
    fs.closeSync(fd)
  }
}

export interface VerifyReport {
  ok: boolean
  segments: SegmentScan[]
  /** Every damaged range of every segment (see SegmentScan.damage). */
  corruptions: { segment: string; offset: number; reason: string }[]
}

/** CRC-scan every segment. The last segment's torn tail (if a writer died) shows up as a corruption too. */
export async function verifyLog(
  dir: string,
  opts: { onProgress?: (p: { segment: string; scannedBytes: number; totalBytes: number }) => void } = {},
): Promise<VerifyReport> {
  const segments: SegmentScan[] = []
  for (const base of await listSegmentBases(dir)) {
    const name = segmentName(base)
    segments.push(
      await scanSegment(dir, base, {
        onProgress: (scannedBytes, totalBytes) =>
          opts.onProgress?.({ segment: name, scannedBytes, totalBytes }),
      }),
    )
  }
  const corruptions = segments.flatMap((s) =>
    s.damage.map((d) => ({ segment: d.segment, offset: d.offset, reason: d.reason })),
  )
  return { ok: corruptions.length === 0, segments, corruptions }
}

/** Every record of one segment, group by group, from `fromOffset`; stops (without throwing) at the first bad group. */
export async function* readSegment(
  dir: string,
  base: number,
  opts: { fromOffset?: number } = {},
): AsyncGenerator<{ offset: number; records: StoredRecord[] }, { endOffset: number; reason?: string }> {
  const cat = new CatalogView(path.join(dir, kCatalogFile))
  await cat.refresh()
  const fd = fs.openSync(path.join(dir, segmentName(base)), 'r')
  const size = fs.fstatSync(fd).size
  const found: { offset: number; records: StoredRecord[] }[] = []
  try {
    let offset = opts.fromOffset ?? kSegmentHeaderBytes
    for (;;) {
      found.length = 0
      const stop = await scanGroups(fd, offset, size, (g) => {
        const records: StoredRecord[] = []
        forEachBatch(g.header, groupBody(g.payload, g.restPos, g.header.flags), (b) => {
          b.records.forEach((r, i) => {
            records.push({
              lsn: b.firstLsn + i,
              stream: cat.name(r.streamId) ?? `#${r.streamId}`,
              module: cat.name(b.moduleId) ?? `#${b.moduleId}`,
              core: b.coreId === 0 ? '' : (cat.name(b.coreId) ?? `#${b.coreId}`),
              seq: b.seq,
              ts: r.ts,
              rts: b.rts,
              body: new Uint8Array(r.body),
            })
          })
          return true
        })
        found.push({ offset: g.header.offset, records })
        return found.length < 64
      })
      for (const f of found) yield f
      if (stop.reason !== undefined || stop.offset >= size)
        return { endOffset: stop.offset, reason: stop.reason }
      offset = stop.offset
    }
  } finally {
    fs.closeSync(fd)
  }
}

export interface TruncateResult {
  segment: string
  /** Where the segment ends now. */
  offset: number
  droppedBytes: number
  /**
   * Set when the cut removed durable (acknowledged) data, i.e. the durable watermark pointed past
   * it: lsns `fromLsn`.. are gone (the next writer reuses them), the cut bytes were saved to
   * `savedTo`, and the watermark, checkpoints and consumer groups were moved back to the cut.
   */
  durableCut?: { fromLsn: number; savedTo: string; groupsMovedBack: string[] }
}

/**
 * Cut a segment at `offset`, which must end the run of valid groups from the segment start (e.g. a
 * scan's validBytes; RangeError otherwise). Refuses while a writer lives (hold acquireRepairLock).
 *
 * Everything that pointed past the cut is made consistent, so that readers never see data that is
 * gone and never fail on it ("short prefix") before a server has run recovery:
 * 1. if the cut removes durable data, those bytes go to `<segment>.cut-<offset>` (fsynced), and the
 *    durable watermark is lowered to the cut and fdatasynced, before any data is cut: a crash in
 *    between leaves readers seeing less, never more;
 * 2. checkpoint slots pointing past the cut are removed (recovery then starts from the other slot or
 *    scans the whole log, rebuilding module HWMs from what is left);
 * 3. consumer groups past the cut move back to it: the next writer reuses those lsns for new records;
 * 4. the file is truncated and fsynced; its sparse index is rewritten from the kept groups.
 */
export async function truncateSegmentTail(
  dir: string,
  base: number,
  offset: number,
): Promise<TruncateResult> {
  assertNoWriter(dir)
  const name = segmentName(base)
  const file = path.join(dir, name)
  const fd = fs.openSync(file, 'r+')
  try {
    const size = fs.fstatSync(fd).size
    const cut = Math.max(kSegmentHeaderBytes, offset)
    const kept = await buildIndexByScan(fd, Math.min(cut, size), 64 * 1024, emptySeed())
    if (kept.stop.offset !== cut) {
      throw new RangeError(
        `cannot cut ${name} at ${cut}: its valid groups end at ${kept.stop.offset}` +
          (kept.stop.reason ? ` (${kept.stop.reason})` : ''),
      )
    }
    const res: TruncateResult = { segment: name, offset: cut, droppedBytes: size - cut }
    if (cut >= size) return res
    const lastKeptLsn = kept.groups > 0 ? kept.summary.lastLsn : base - 1
    const wm = readWatermarkFile(dir)
    if (wm && wm.segBase === base && wm.endOffset > cut) {
      const savedTo = `${name}.cut-${cut}`
      await writeFileAtomic(path.join(dir, savedTo), await readAt(fd, cut, size - cut))
      rewriteWatermark(dir, { ...wm, durableLsn: lastKeptLsn, endOffset: cut })
      const groupsMovedBack: string[] = []
      for (const g of await listGroups(dir)) {
        if (g.nextLsn <= lastKeptLsn + 1) continue
        await writeGroup(dir, g.name, lastKeptLsn + 1)
        groupsMovedBack.push(g.name)
      }
      res.durableCut = { fromLsn: lastKeptLsn + 1, savedTo, groupsMovedBack }
    }
    let removed = false
    for (const slot of kCheckpointFiles) {
      const p = path.join(dir, slot)
      let c: Checkpoint | undefined
      try {
        c = decodeCheckpoint(fs.readFileSync(p, 'utf8'))
      } catch {}
      if (c && c.segBase === base && c.offset > cut) {
        fs.rmSync(p)
        removed = true
      }
    }
    if (removed) await fsyncDir(dir)
    fs.ftruncateSync(fd, cut)
    fs.fsyncSync(fd)
    const sealed = (await listSegmentBases(dir)).some((b) => b > base)
    const idx = sealed
      ? encodeSealedIndex(kept.entries, kept.summary)
      : Buffer.concat([kIndexMagic, ...kept.entries.map(encodeEntry)])
    await writeFileAtomic(path.join(dir, indexName(base)), idx, false)
    return res
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * Record damage as known (an acknowledged loss of lsns `range.fromLsn..toLsn`). Readers skip damaged
 * groups whether listed or not; recover-dump's verify and dump treat a listed one as a note, not an
 * error.
 */
export async function quarantineSegment(
  dir: string,
  base: number,
  offset: number,
  reason: string,
  range: { fromLsn?: number; toLsn?: number } = {},
): Promise<QuarantineEntry> {
  assertNoWriter(dir)
  const entry: QuarantineEntry = { segment: segmentName(base), offset, reason, detectedAtMs: Date.now() }
  if (range.fromLsn !== undefined) entry.fromLsn = range.fromLsn
  if (range.toLsn !== undefined) entry.toLsn = range.toLsn
  await addQuarantine(dir, entry)
  return entry
}

/** Forget a quarantine entry whose data is intact again (the segment file was restored). */
export async function unquarantineSegment(dir: string, base: number, offset: number): Promise<boolean> {
  assertNoWriter(dir)
  return removeQuarantine(dir, segmentName(base), offset)
}

/** Rebuild and write the sealed index of one segment. */
export async function rebuildIndex(dir: string, base: number): Promise<void> {
  assertNoWriter(dir)
  const fd = fs.openSync(path.join(dir, segmentName(base)), 'r')
  try {
    const b = await buildIndexByScan(fd, fs.fstatSync(fd).size, 64 * 1024, emptySeed())
    await writeFileAtomic(path.join(dir, indexName(base)), encodeSealedIndex(b.entries, b.summary), false)
  } finally {
    fs.closeSync(fd)
  }
}
