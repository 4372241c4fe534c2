/**
 * What the index reads from the log: the oldest lsn still kept (retention) and record bodies by
 * lsn (the query API). Bodies are never copied into the index.
 */
import { readdirSync } from 'node:fs'
import { openReader, type Reader, type StoredRecord } from '@module-ingest/log'

// Segment files are `<base lsn, 20 digits>.seg` (packages/log, format.ts).
const kSegment = /^(\d{20})\.seg$/

/** The smallest lsn the log still holds (its oldest segment's base); 1 when there is no segment. */
export function oldestLogLsn(logDir: string): number {
  let min = Number.POSITIVE_INFINITY
  for (const name of readdirSync(logDir)) {
    const m = kSegment.exec(name)
    if (m) min = Math.min(min, Number(m[1]))
  }
  return Number.isFinite(min) ? min : 1
}

/** Runs of lsns closer than this are read with one cursor instead of one per lsn. */
const kGap = 512

/** Fetch the records with these lsns (missing ones, e.g. removed by retention, are absent). */
export async function fetchByLsn(
  reader: Reader,
  lsns: readonly number[],
): Promise<Map<number, StoredRecord>> {
  const out = new Map<number, StoredRecord>()
  const sorted = [...new Set(lsns)].sort((a, b) => a - b)
  let i = 0
  while (i < sorted.length) {
    let j = i
    while (j + 1 < sorted.length && sorted[j + 1]! - sorted[j]! <= kGap) j++
    const first = sorted[i]!
    const last = sorted[j]!
    const want = new Set(sorted.slice(i, j + 1))
    const cursor = reader.cursor({ fromLsn: first })
    try {
      for (;;) {
        const recs = await cursor.read({ maxRecords: Math.min(4096, last - cursor.nextLsn + 1) })
        if (recs.length === 0) break
        for (const r of recs) if (want.has(r.lsn)) out.set(r.lsn, { ...r, body: r.body.slice() })
        if (cursor.nextLsn > last) break
      }
    } finally {
      cursor.close()
    }
    i = j + 1
  }
  return out
}

export { openReader }
