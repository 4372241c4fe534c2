// Segment files on disk: listing, and rebuilding a sparse index by scanning.
import fs from 'node:fs'
import path from 'node:path'
import {
  decodeSegmentHeader,
  forEachBatch,
  groupBody,
  kSegmentHeaderBytes,
  parseSegmentName,
} from './format.ts'
import { readAt, type ScannedGroup, type ScanStop, scanGroups } from './scan.ts'
import type { IndexEntry, SegmentSummary } from './sparse-index.ts'

export async function listSegmentBases(dir: string): Promise<number[]> {
  const names = await fs.promises.readdir(dir)
  const bases: number[] = []
  for (const n of names) {
    const b = parseSegmentName(n)
    if (b !== undefined) bases.push(b)
  }
  return bases.sort((a, b) => a - b)
}

export async function readSegmentHeader(fd: number): Promise<number | undefined> {
  return decodeSegmentHeader(await readAt(fd, 0, kSegmentHeaderBytes))
}

export interface IndexBuild {
  entries: IndexEntry[]
  summary: SegmentSummary
  stop: ScanStop
  records: number
  groups: number
  lastIndexedOffset: number
}

export interface IndexBuildSeed {
  offset: number
  entries: IndexEntry[]
  lastIndexedOffset: number
  maxRts: number
  firstTs: number
  lastLsn: number
}

export function emptySeed(): IndexBuildSeed {
  return {
    offset: kSegmentHeaderBytes,
    entries: [],
    lastIndexedOffset: -Infinity,
    maxRts: -1,
    firstTs: -1,
    lastLsn: 0,
  }
}

/**
 * Scan a segment from `seed.offset` to `end`, extending the sparse index. `onGroup` sees every valid
 * group (recovery uses it for high-water marks); returning a string rejects the group (stops the
 * scan there with that reason).
 */
export async function buildIndexByScan(
  fd: number,
  end: number,
  intervalBytes: number,
  seed: IndexBuildSeed,
  onGroup?: (g: ScannedGroup, body: Uint8Array) => string | undefined,
  onProgress?: (offset: number) => void,
): Promise<IndexBuild> {
  const entries = seed.entries.slice()
  let lastIndexed = seed.lastIndexedOffset
  let maxRts = seed.maxRts
  let firstTs = seed.firstTs
  let lastLsn = seed.lastLsn
  let records = 0
  let groups = 0
  let rejected: string | undefined
  let rejectedAt = 0
  const stop = await scanGroups(fd, seed.offset, end, (g) => {
    const h = g.header
    let body: Uint8Array
    let groupMaxRts = maxRts
    let groupFirstTs = firstTs
    try {
      body = groupBody(g.payload, g.restPos, h.flags)
      // Only the batch headers matter here, but they sit between bodies: walk them.
      forEachBatch(h, body, (b) => {
        if (b.rts > groupMaxRts) groupMaxRts = b.rts
        if (groupFirstTs < 0) groupFirstTs = Number(b.records[0]!.ts) // a summary: f64 in the index
        return true
      })
    } catch (err) {
      rejected = `malformed group content (${(err as Error).message})`
      rejectedAt = h.offset
      return false
    }
    const reason = onGroup?.(g, body)
    if (reason) {
      rejected = reason
      rejectedAt = h.offset
      return false
    }
    if (h.offset >= lastIndexed + intervalBytes) {
      entries.push({ lsn: h.baseLsn, offset: h.offset, rtsMaxBefore: maxRts })
      lastIndexed = h.offset
    }
    maxRts = groupMaxRts
    firstTs = groupFirstTs
    lastLsn = h.baseLsn + h.count - 1
    records += h.count
    groups++
    onProgress?.(h.offset + h.totalBytes)
    return true
  })
  const finalStop: ScanStop = rejected ? { offset: rejectedAt, reason: rejected } : stop
  return {
    entries,
    summary: { lastLsn, endOffset: finalStop.offset, maxRts, firstTs },
    stop: finalStop,
    records,
    groups,
    lastIndexedOffset: lastIndexed,
  }
}

export function segPath(dir: string, name: string): string {
  return path.join(dir, name)
}
