import { errorLine } from '@module-ingest/errors'
import { type LogGap, openReader, type Reader, type StoredRecord } from '@module-ingest/log'
import { kExit } from './common.ts'
import type { Selection } from './filters.ts'

// Committed records only: the reader stops at the durable watermark, so dump and export are safe
// beside a running server and never show a group that a crash could still take back.

export interface RecordScan {
  reader: Reader
  /** The durable LSN when the scan began: the scan ends there even if the writer moves on. */
  endLsn: number
  /** Selected records in LSN order. `position()` reports the next LSN the cursor considers. */
  records: AsyncGenerator<StoredRecord>
  position: () => number
  /** Damaged ranges the scan skipped (every intact record around them was served). */
  gaps: LogGap[]
}

const kBatchRecords = 1000

export async function scanRecords(dir: string, sel: Selection): Promise<RecordScan> {
  const gaps: LogGap[] = []
  const reader = await openReader(dir, { onGap: (g) => gaps.push(g) })
  const endLsn = reader.durableLsn()
  const cursor = reader.cursor(sel.cursor)
  async function* gen(): AsyncGenerator<StoredRecord> {
    let left = sel.limit
    // emit: hand the record out; go: keep scanning after it
    const take = (r: StoredRecord): { emit: boolean; go: boolean } => {
      if (r.lsn > endLsn || sel.past(r)) return { emit: false, go: false }
      if (!sel.match(r)) return { emit: false, go: true }
      return { emit: true, go: --left > 0 }
    }
    let stoppedAt = Number.POSITIVE_INFINITY
    try {
      while (left > 0) {
        // The cursor skips a damaged group (onGap above) and goes on: everything readable is served.
        const batch = await cursor.read({ maxRecords: kBatchRecords })
        if (batch.length === 0) return
        for (const r of batch) {
          const d = take(r)
          if (d.emit) yield r
          if (!d.go) {
            stoppedAt = r.lsn
            return
          }
        }
      }
    } finally {
      // A read may run past where --limit/--to stopped: damage there was not part of the scan.
      for (let i = gaps.length - 1; i >= 0; i--) if (gaps[i]!.fromLsn > stoppedAt) gaps.splice(i, 1)
      cursor.close()
      await reader.close()
    }
  }
  return { reader, endLsn, records: gen(), position: () => cursor.nextLsn, gaps }
}

/**
 * Tell stderr what a scan skipped; the exit code: 3 when damage was skipped that `repair` has not
 * recorded as a known loss (what `verify` calls an error), 0 otherwise.
 */
export function reportGaps(scan: RecordScan): number {
  const known = scan.reader.quarantine
  let unknown = 0
  for (const g of scan.gaps) {
    const isKnown = known.some((q) => q.segment === g.segment && q.offset === g.offset)
    if (!isKnown) unknown++
    const what = `skipped lsns ${g.fromLsn}..${g.toLsn} (${g.records} records): segment ${g.segment} offset ${g.offset}: ${g.reason}`
    process.stderr.write(
      isKnown
        ? `note: ${what} (known loss, recorded by repair)\n`
        : `${errorLine({ code: 'MI_ERR_LOG_CORRUPT', message: `${what} (run \`verify\`, then \`repair\`)` })}\n`,
    )
  }
  return unknown > 0 ? kExit.corrupt : kExit.ok
}
