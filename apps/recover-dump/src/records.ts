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
    try {
      while (left > 0) {
        const batch = await cursor.read({ maxRecords: kBatchRecords })
        if (batch.length === 0) return
        for (const r of batch) {
          if (r.lsn > endLsn || sel.past(r)) return
          if (!sel.match(r)) continue
          yield r
          if (--left <= 0) return
        }
      }
    } finally {
      cursor.close()
      await reader.close()
    }
  }
  return { reader, endLsn, records: gen(), position: () => cursor.nextLsn }
}
