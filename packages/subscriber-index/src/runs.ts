/**
 * Record runs (schema.ts, `record_runs`): consecutive records with the same (stream, module,
 * core), lsns at most `kRunGap` apart, producer times within `kRunSpanUs`, at most `kRunMax`
 * records, written as one row. Used by the writer per batch and by the schema 1 migration.
 */
import type { DatabaseSync } from 'node:sqlite'
import { BulkInsert } from './bulk.ts'

/**
 * The run limits. The query side relies on the span (runs overlapping a time range start at most
 * `kRunSpanUs` before it) and reads at most `kRunMax` records plus gaps from the log per run.
 */
export const kRunSpanUs = 60_000_000
export const kRunGap = 64
export const kRunMax = 1024

interface Run {
  stream: number
  module: number
  core: number
  firstLsn: number
  lastLsn: number
  minTs: number
  maxTs: number
  count: number
}

export class RunBuilder {
  #rows: BulkInsert
  #run: Run | undefined

  constructor(db: DatabaseSync) {
    this.#rows = new BulkInsert(
      db,
      'INSERT OR IGNORE INTO record_runs (min_ts, first_lsn, last_lsn, max_ts, count, stream, module, core)',
      8,
    )
  }

  /** The next record (in lsn order). */
  add(stream: number, module: number, core: number, lsn: number, ts: number): void {
    const run = this.#run
    if (
      run !== undefined &&
      run.stream === stream &&
      run.module === module &&
      run.core === core &&
      lsn - run.lastLsn <= kRunGap &&
      run.count < kRunMax &&
      Math.max(run.maxTs, ts) - Math.min(run.minTs, ts) <= kRunSpanUs
    ) {
      run.lastLsn = lsn
      run.count++
      if (ts < run.minTs) run.minTs = ts
      if (ts > run.maxTs) run.maxTs = ts
      return
    }
    this.#end()
    this.#run = { stream, module, core, firstLsn: lsn, lastLsn: lsn, minTs: ts, maxTs: ts, count: 1 }
  }

  #end(): void {
    const r = this.#run
    if (r !== undefined)
      this.#rows.add(r.minTs, r.firstLsn, r.lastLsn, r.maxTs, r.count, r.stream, r.module, r.core)
    this.#run = undefined
  }

  /** Close the open run and write what is buffered; call before COMMIT. */
  flush(): void {
    this.#end()
    this.#rows.flush()
  }

  /** Drop what is buffered (after a failed transaction). */
  clear(): void {
    this.#run = undefined
    this.#rows.clear()
  }
}
