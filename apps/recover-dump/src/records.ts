import { openReader, type Reader, type StoredRecord } from '@module-ingest/log'
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
}

const kBatchRecords = 1000

export async function scanRecords(dir: string, sel: Selection): Promise<RecordScan> {
  const reader = await openReader(dir)
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
    try {
      while (left > 0) {
        // The cursor hands out every record before a bad group; the read after them throws
        // MI_ERR_LOG_CORRUPT. A scan that reached --limit or --to first is complete: no error.
        const batch = await cursor.read({ maxRecords: kBatchRecords })
        if (batch.length === 0) return
        for (const r of batch) {
          const d = take(r)
          if (d.emit) yield r
          if (!d.go) return
        }
      }
    } finally {
      cursor.close()
      await reader.close()
    }
  }
  return { reader, endLsn, records: gen(), position: () => cursor.nextLsn }
}
