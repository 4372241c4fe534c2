/**
 * Schema 1 → 2 in place, inside the writer's opening transaction (after schema 2's tables were
 * created): `records` rows become runs, `rollup_1s` rows become the cells of (series, minute)
 * chunks whose totals are recomputed from them (`rollup_1m` is derived, so it is dropped with the
 * other schema 1 tables). Applied lsns, names, series and raw points are the same in both.
 */
import type { DatabaseSync } from 'node:sqlite'
import { Chunk, kChunkPut, minuteOf, putChunk } from './chunk.ts'
import { RunBuilder } from './runs.ts'

export function migrateV1(db: DatabaseSync): void {
  const runs = new RunBuilder(db)
  const records = db.prepare('SELECT stream, module, core, lsn, ts FROM records ORDER BY lsn')
  records.setReturnArrays(true)
  for (const r of records.iterate() as Iterable<[number, number, number, number, number]>) runs.add(...r)
  runs.flush()

  const put = db.prepare(kChunkPut)
  const rows = db.prepare(
    `SELECT series, bucket, max_lsn, count, min, max, sum, last, last_ts, last_lsn FROM rollup_1s
     ORDER BY series, bucket`,
  )
  rows.setReturnArrays(true)
  let at: { series: number; minute: number; chunk: Chunk } | undefined
  for (const [series, bucket, maxLsn, ...cell] of rows.iterate() as Iterable<number[]>) {
    const minute = minuteOf(bucket!)
    if (at === undefined || at.series !== series || at.minute !== minute) {
      if (at !== undefined) putChunk(put, at.series, at.minute, at.chunk)
      at = { series: series!, minute, chunk: new Chunk() }
    }
    at.chunk.set((bucket! - minute) / 1_000_000, cell, maxLsn!)
  }
  if (at !== undefined) putChunk(put, at.series, at.minute, at.chunk)
  db.exec('DROP TABLE records; DROP TABLE rollup_1s; DROP TABLE rollup_1m')
  db.prepare("UPDATE meta SET value = 2 WHERE key = 'schema'").run()
}
