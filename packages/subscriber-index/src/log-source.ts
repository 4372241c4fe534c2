/**
 * What the index reads from the log: the oldest lsn still kept (retention) and records by lsn
 * range (the query API reads record runs). Bodies are never copied into the index.
 */
import { readdirSync } from 'node:fs'
import { openReader, type Reader } from '@module-ingest/log'
import type { RecordSource } from './query.ts'

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

/** The log as the query side's `RecordSource`: one cursor per lsn range. */
export function logRecordSource(reader: Reader): RecordSource {
  return {
    async read(first, last, visit) {
      const cursor = reader.cursor({ fromLsn: first })
      try {
        while (cursor.nextLsn <= last) {
          const recs = await cursor.read({ maxRecords: Math.min(4096, last - cursor.nextLsn + 1) })
          if (recs.length === 0) break
          for (const r of recs) if (r.lsn <= last) visit(r)
        }
      } finally {
        cursor.close()
      }
    },
  }
}

export { openReader }
