/**
 * The write side: apply a batch of committed records in one transaction, together with the
 * per-module "applied through lsn" that makes redelivery (at-least-once) a no-op.
 *
 * Per batch, points are aggregated in memory into (series, minute) chunks (chunk.ts), merged with
 * the stored chunk and written once: one row write per series and minute touched, not per point or
 * per second. Records become runs (one `record_runs` row per run of a module's records, schema.ts),
 * not a row each. A rollup never double-counts: a record at or below its module's applied lsn is
 * skipped before it reaches the aggregation, and the applied lsn commits with the rows.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite'
import { BulkInsert } from './bulk.ts'
import { Chunk, kChunkPut, kSecondUs, minuteOf, putChunk } from './chunk.ts'
import { compileField, type FieldGetter, parseObject } from './extract.ts'
import { RunBuilder } from './runs.ts'
import { kCore, kModule, kStream, openDatabase } from './schema.ts'

/** The part of a record the index reads (a log `StoredRecord` or SDK `SubscriberRecord` fits). */
export interface IndexableRecord {
  lsn: number
  stream: string
  module: string
  core: string
  /**
   * µs. The index keeps ts as a JS number (SQLite INTEGER, time buckets, `next` page tokens): a
   * bigint ts (above 2^53-1, a producer's u64) is indexed clamped to 2^53-1 (year ≈ 2255); the
   * record itself, read from the log by lsn, stays exact.
   */
  ts: number | bigint
  body: Uint8Array
}

export interface IndexWriterOptions {
  records?: boolean
  fields?: string[]
  rawPoints?: boolean
  synchronous?: 'normal' | 'full'
}

export interface ApplyResult {
  /** Records indexed by this call. */
  applied: number
  /** Records skipped as already applied (redelivery). */
  skipped: number
  /** Time-series points extracted. */
  points: number
}

const later = (ts: number, lsn: number, thanTs: number, thanLsn: number) =>
  ts > thanTs || (ts === thanTs && lsn > thanLsn)

export class IndexWriter {
  readonly db: DatabaseSync
  readonly path: string
  #records: boolean
  #rawPoints: boolean
  #fields: Array<{ name: string; get: FieldGetter }>
  /** Interned name ids, one map per kind (kStream, kModule, kCore). */
  #names = [new Map<string, number>(), new Map<string, number>(), new Map<string, number>()]
  /** module id → stream id → series id per configured field (0 = not created yet). */
  #series = new Map<number, Map<number, number[]>>()
  #s: Record<string, StatementSync>
  #runs: RunBuilder
  #pointRows: BulkInsert

  constructor(path: string, options: IndexWriterOptions = {}) {
    this.path = path
    this.db = openDatabase(path, { synchronous: options.synchronous ?? 'normal' })
    this.#records = options.records ?? true
    this.#rawPoints = options.rawPoints ?? false
    this.#fields = (options.fields ?? []).map((name) => ({ name, get: compileField(name) }))
    const db = this.db
    this.#s = {
      nameGet: db.prepare('SELECT id FROM names WHERE kind = ? AND name = ?'),
      nameAdd: db.prepare('INSERT INTO names (kind, name) VALUES (?, ?)'),
      seriesGet: db.prepare('SELECT id FROM series WHERE stream = ? AND module = ? AND field = ?'),
      seriesAdd: db.prepare('INSERT INTO series (stream, module, field) VALUES (?, ?, ?)'),
      seriesLast: db.prepare(`UPDATE series SET last = ?, last_ts = ?, last_lsn = ?
        WHERE id = ? AND (last_ts IS NULL OR ? > last_ts OR (? = last_ts AND ? > last_lsn))`),
      appliedGet: db.prepare('SELECT lsn FROM applied WHERE module = ?'),
      appliedSet: db.prepare(
        'INSERT INTO applied (module, lsn) VALUES (?, ?) ON CONFLICT (module) DO UPDATE SET lsn = max(lsn, excluded.lsn)',
      ),
      chunkGet: db.prepare('SELECT cells, max_lsn FROM rollup WHERE series = ? AND minute = ?'),
      chunkPut: db.prepare(kChunkPut),
    }
    // The query side needs to know whether steps finer than the rollups can be answered.
    db.prepare(
      "INSERT INTO meta (key, value) VALUES ('raw_points', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ).run(this.#rawPoints ? 1 : 0)
    this.#runs = new RunBuilder(db)
    this.#pointRows = new BulkInsert(db, 'INSERT OR IGNORE INTO points (series, ts, lsn, value)', 4)
  }

  #name(kind: number, name: string): number {
    const names = this.#names[kind]!
    let id = names.get(name)
    if (id === undefined) {
      const row = this.#s.nameGet!.get(kind, name) as { id: number } | undefined
      id = row ? row.id : Number(this.#s.nameAdd!.run(kind, name).lastInsertRowid)
      names.set(name, id)
    }
    return id
  }

  /** The series ids of (stream, module), one per field, created on first use. */
  #seriesIds(stream: number, module: number): number[] {
    let byStream = this.#series.get(module)
    if (byStream === undefined) {
      byStream = new Map()
      this.#series.set(module, byStream)
    }
    let ids = byStream.get(stream)
    if (ids === undefined) {
      ids = this.#fields.map(() => 0)
      byStream.set(stream, ids)
    }
    return ids
  }

  #seriesId(stream: number, module: number, field: string): number {
    const row = this.#s.seriesGet!.get(stream, module, field) as { id: number } | undefined
    return row ? row.id : Number(this.#s.seriesAdd!.run(stream, module, field).lastInsertRowid)
  }

  /** Apply records (any modules, each module's in lsn order) atomically with their applied lsns. */
  apply(batch: readonly IndexableRecord[]): ApplyResult {
    const out: ApplyResult = { applied: 0, skipped: 0, points: 0 }
    if (batch.length === 0) return out
    const s = this.#s
    // IMMEDIATE: take the write lock before reading applied lsns, so another writer thread cannot
    // apply the same records between our read and our commit.
    this.db.exec('BEGIN IMMEDIATE')
    try {
      const applied = new Map<number, number>()
      // series → minute → chunk of this batch's points
      const chunks = new Map<number, Map<number, Chunk>>()
      const latest = new Map<number, { v: number; ts: number; lsn: number }>()
      for (const r of batch) {
        const module = this.#name(kModule, r.module)
        let through = applied.get(module)
        if (through === undefined) {
          through = (s.appliedGet!.get(module) as { lsn: number } | undefined)?.lsn ?? 0
        }
        if (r.lsn <= through) {
          out.skipped++
          applied.set(module, through)
          continue
        }
        applied.set(module, r.lsn)
        out.applied++
        const stream = this.#name(kStream, r.stream)
        const ts = typeof r.ts === 'number' ? r.ts : Number.MAX_SAFE_INTEGER
        if (this.#records) this.#runs.add(stream, module, this.#name(kCore, r.core), r.lsn, ts)
        if (this.#fields.length === 0) continue
        const obj = parseObject(r.body)
        if (obj === undefined) continue
        const minute = minuteOf(ts)
        const sec = Math.floor((ts - minute) / kSecondUs)
        const ids = this.#seriesIds(stream, module)
        for (let i = 0; i < this.#fields.length; i++) {
          const f = this.#fields[i]!
          const v = f.get(obj)
          if (v === undefined) continue
          out.points++
          let series = ids[i]!
          if (series === 0) {
            series = this.#seriesId(stream, module, f.name)
            ids[i] = series
          }
          if (this.#rawPoints) this.#pointRows.add(series, ts, r.lsn, v)
          let bySeries = chunks.get(series)
          if (bySeries === undefined) {
            bySeries = new Map()
            chunks.set(series, bySeries)
          }
          let c = bySeries.get(minute)
          if (c === undefined) {
            c = new Chunk()
            bySeries.set(minute, c)
          }
          c.add(sec, v, ts, r.lsn)
          const l = latest.get(series)
          if (l === undefined || later(ts, r.lsn, l.ts, l.lsn)) latest.set(series, { v, ts, lsn: r.lsn })
        }
      }
      this.#runs.flush()
      this.#pointRows.flush()
      for (const [series, bySeries] of chunks) {
        for (const [minute, c] of bySeries) {
          const old = s.chunkGet!.get(series, minute) as { cells: Uint8Array; max_lsn: number } | undefined
          if (old !== undefined) c.merge(old.cells, old.max_lsn)
          putChunk(s.chunkPut!, series, minute, c)
        }
      }
      for (const [series, l] of latest) s.seriesLast!.run(l.v, l.ts, l.lsn, series, l.ts, l.ts, l.lsn)
      for (const [module, lsn] of applied) s.appliedSet!.run(module, lsn)
      this.db.exec('COMMIT')
    } catch (err) {
      this.#rollback()
      throw err
    }
    return out
  }

  /** Highest applied lsn over all modules (0 for an empty index). */
  appliedLsn(): number {
    return (this.db.prepare('SELECT max(lsn) AS lsn FROM applied').get() as { lsn: number | null }).lsn ?? 0
  }

  /**
   * Retention follows the log: drop rows for records below `minLsn` (the log's oldest segment
   * base). A record run, and a rollup minute, goes when its newest record is gone; one straddling
   * the cut stays whole until then (the query side never returns records below the cut). Returns
   * the number of records whose run was dropped.
   */
  prune(minLsn: number): number {
    const prev = this.db.prepare("SELECT value FROM meta WHERE key = 'pruned_below'").get() as
      | { value: number }
      | undefined
    if (prev !== undefined && prev.value >= minLsn) return 0
    this.db.exec('BEGIN IMMEDIATE')
    try {
      const gone = this.db
        .prepare('SELECT coalesce(sum(count), 0) AS n FROM record_runs WHERE last_lsn < ?')
        .get(minLsn) as { n: number }
      this.db.prepare('DELETE FROM record_runs WHERE last_lsn < ?').run(minLsn)
      this.db.prepare('DELETE FROM points WHERE lsn < ?').run(minLsn)
      this.db.prepare('DELETE FROM rollup WHERE max_lsn < ?').run(minLsn)
      this.db
        .prepare(
          "INSERT INTO meta (key, value) VALUES ('pruned_below', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .run(minLsn)
      this.db.exec('COMMIT')
      return gone.n
    } catch (err) {
      this.#rollback()
      throw err
    }
  }

  #rollback(): void {
    // Ids handed out inside the failed transaction no longer exist.
    for (const m of this.#names) m.clear()
    this.#series.clear()
    this.#runs.clear()
    this.#pointRows.clear()
    if (this.db.isTransaction) this.db.exec('ROLLBACK')
  }

  close(): void {
    if (this.db.isOpen) this.db.close()
  }
}
