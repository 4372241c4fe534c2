// Sealing the last segment at damage (issue 11): a bad group in the middle of the active segment,
// with intact groups after it, is not a torn tail. Cutting there would discard CRC-valid,
// acknowledged records, so instead the segment is sealed as it is: a new segment starts after the
// last intact group, readers serve every intact group of the old one and skip the damage with an
// accounted gap (as in any sealed segment), and verify/dump/repair report it as such. Only bytes
// after the last intact group that a crash could have torn (past the durable end) are cut.
import path from 'node:path'
import { encodeSegmentHeader, kSegmentHeaderBytes, segmentName } from './format.ts'
import { fs } from './fsio.ts'
import type { LogGap } from './gap.ts'
import { assertNoWriter } from './lock.ts'
import { fileModeIn, fsyncDirSync, readWatermarkFile, rewriteWatermark } from './meta.ts'
import { scanSegment } from './raw.ts'

export interface SealResult {
  segment: string
  /** Every damaged range in the sealed segment (readers skip each with a gap). */
  damage: LogGap[]
  /** Lsns of the intact groups after the first damage, which a cut would have dropped. */
  keptAfterDamage: { fromLsn: number; toLsn: number }
  /** Base of the new (empty) active segment. */
  nextBase: number
  /** Torn bytes cut after the last intact group (0 if none). */
  cutBytes: number
}

/**
 * Seal segment `base` (the last one) at its damage when intact groups follow it; undefined when
 * none follows (a torn tail: truncate instead). Refuses while a writer lives (hold acquireRepairLock).
 */
export async function sealSegmentAtDamage(dir: string, base: number): Promise<SealResult | undefined> {
  assertNoWriter(dir)
  return sealAtDamage(dir, base, fileModeIn(dir))
}

/** The same, for recovery (which holds the writer lock itself). */
export async function sealAtDamage(
  dir: string,
  base: number,
  fileMode: number,
): Promise<SealResult | undefined> {
  const name = segmentName(base)
  const scan = await scanSegment(dir, base)
  const first = scan.damage[0]
  if (!first || first.offset === 0 || first.toLsn === undefined || scan.lastLsn === undefined)
    return undefined
  let nextBase = scan.lastLsn + 1
  let cutBytes = 0
  const wm = readWatermarkFile(dir)
  const trailing = scan.damage.at(-1)!
  if (trailing.toLsn === undefined) {
    // Bad bytes after the last intact group: a torn tail if past the durable end; otherwise kept
    // (acknowledged, damaged) and the next segment starts after every acknowledged lsn.
    const durableEnd = wm && wm.segBase === base ? wm.endOffset : 0
    if (trailing.offset >= durableEnd) {
      cutBytes = scan.sizeBytes - trailing.offset
      const fd = fs.openSync(path.join(dir, name), 'r+')
      try {
        fs.ftruncateSync(fd, trailing.offset)
        fs.fsyncSync(fd)
      } finally {
        fs.closeSync(fd)
      }
    } else if (wm && wm.segBase === base) nextBase = Math.max(nextBase, wm.durableLsn + 1)
  }
  const file = path.join(dir, segmentName(nextBase))
  const fd = fs.openSync(file, 'wx', fileMode)
  try {
    fs.writeSync(fd, encodeSegmentHeader(nextBase), 0, kSegmentHeaderBytes, 0)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  fsyncDirSync(dir)
  // Readers read a segment below the watermark's whole: every intact group of the sealed one.
  if (wm)
    rewriteWatermark(dir, {
      ...wm,
      durableLsn: nextBase - 1,
      segBase: nextBase,
      endOffset: kSegmentHeaderBytes,
    })
  return {
    segment: name,
    damage: cutBytes > 0 ? scan.damage.slice(0, -1) : scan.damage,
    keptAfterDamage: { fromLsn: first.toLsn + 1, toLsn: scan.lastLsn },
    nextBase,
    cutBytes,
  }
}
