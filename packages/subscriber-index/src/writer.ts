/**
 * The write side: apply a batch of committed records in one transaction, together with the
 * per-module "applied through lsn" that makes redelivery (at-least-once) a no-op.
 *
 * Rollups are aggregated in memory per batch, then upserted (one row write per bucket per batch,
 * not per point). A rollup never double-counts: a record at or below its module's applied lsn is
 * skipped before it reaches the aggregation, and the applied lsn commits with the rows.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite'
import { BulkInsert } from './bulk.ts'
import { compileField, type FieldGetter, parseObject } from './extract.ts'
import { kCore, kModule, kRollups, kStream, openDatabase } from './schema.ts'

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

interface Agg {
  series: number
  bucket: number
  count: number
  min: number
  max: number
  sum: number
  last: number
  lastTs: number
  lastLsn: number
  maxLsn: number
}

const later = (ts: number, lsn: number, thanTs: number, thanLsn: number) =>
  ts > thanTs || (ts === thanTs && lsn > thanLsn)

export class IndexWriter {
  readonly db: DatabaseSync
  readonly path: string
  #records: boolean
  #rawPoints: boolean
  #fields: Array<{ name: string; get: FieldGetter }>
  #names = new Map<string, number>()
  #series = new Map<string, number>()
  #s: Record<string, StatementSync>
  #recordRows: BulkInsert
  #pointRows: BulkInsert

  constructor(path: string, options: IndexWriterOptions = {}) {
    this.path = path
    this.db = openDatabase(path, { synchronous: options.synchronous ?? 'normal' })
    this.#records = options.records ?? true
    this.#rawPoints = options.rawPoints ?? false
    this.#fields = (options.fields ?? []).map((name) => ({ name, get: compileField(name) }))
    const db = this.db
    const upsertRollup = (table: string) =>
      db.prepare(`INSERT INTO ${table} (series, bucket, count, min, max, sum, last, last_ts, last_lsn, max_lsn)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (series, bucket) DO UPDATE SET
          count = count + excluded.count, min = min(min, excluded.min), max = max(max, excluded.max),
          sum = sum + excluded.sum,
          last = CASE WHEN excluded.last_ts > last_ts OR (excluded.last_ts = last_ts AND excluded.last_lsn > last_lsn)
                 THEN excluded.last ELSE last END,
          last_lsn = CASE WHEN excluded.last_ts > last_ts OR (excluded.last_ts = last_ts AND excluded.last_lsn > last_lsn)
                 THEN excluded.last_lsn ELSE last_lsn END,
          last_ts = max(last_ts, excluded.last_ts),
          max_lsn = max(max_lsn, excluded.max_lsn)`)
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
      rollup_1s: upsertRollup('rollup_1s'),
      rollup_1m: upsertRollup('rollup_1m'),
    }
    // The query side needs to know whether steps finer than the rollups can be answered.
    db.prepare(
      "INSERT INTO meta (key, value) VALUES ('raw_points', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ).run(this.#rawPoints ? 1 : 0)
    this.#recordRows = new BulkInsert(db, 'INSERT OR IGNORE INTO records (lsn, ts, stream, module, core)', 5)
    this.#pointRows = new BulkInsert(db, 'INSERT OR IGNORE INTO points (series, ts, lsn, value)', 4)
  }

  #name(kind: number, name: string): number {
    const key = `${kind}\u0000${name}`
    let id = this.#names.get(key)
    if (id === undefined) {
      const row = this.#s.nameGet!.get(kind, name) as { id: number } | undefined
      id = row ? row.id : Number(this.#s.nameAdd!.run(kind, name).lastInsertRowid)
      this.#names.set(key, id)
    }
    return id
  }

  #seriesId(stream: number, module: number, field: string): number {
    const key = `${stream}\u0000${module}\u0000${field}`
    let id = this.#series.get(key)
    if (id === undefined) {
      const row = this.#s.seriesGet!.get(stream, module, field) as { id: number } | undefined
      id = row ? row.id : Number(this.#s.seriesAdd!.run(stream, module, field).lastInsertRowid)
      this.#series.set(key, id)
    }
    return id
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
      const rollups = kRollups.map(() => new Map<string, Agg>())
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
        if (this.#records) this.#recordRows.add(r.lsn, ts, stream, module, this.#name(kCore, r.core))
        if (this.#fields.length === 0) continue
        const obj = parseObject(r.body)
        if (obj === undefined) continue
        for (const f of this.#fields) {
          const v = f.get(obj)
          if (v === undefined) continue
          out.points++
          const series = this.#seriesId(stream, module, f.name)
          if (this.#rawPoints) this.#pointRows.add(series, ts, r.lsn, v)
          for (const [i, g] of kRollups.entries()) {
            const bucket = ts - (((ts % g.us) + g.us) % g.us)
            const key = `${series}:${bucket}`
            const a = rollups[i]!.get(key)
            if (a === undefined) {
              rollups[i]!.set(key, {
                series,
                bucket,
                count: 1,
                min: v,
                max: v,
                sum: v,
                last: v,
                lastTs: ts,
                lastLsn: r.lsn,
                maxLsn: r.lsn,
              })
            } else {
              a.count++
              if (v < a.min) a.min = v
              if (v > a.max) a.max = v
              a.sum += v
              if (later(ts, r.lsn, a.lastTs, a.lastLsn)) {
                a.last = v
                a.lastTs = ts
                a.lastLsn = r.lsn
              }
              if (r.lsn > a.maxLsn) a.maxLsn = r.lsn
            }
          }
          const l = latest.get(series)
          if (l === undefined || later(ts, r.lsn, l.ts, l.lsn)) latest.set(series, { v, ts, lsn: r.lsn })
        }
      }
      this.#recordRows.flush()
      this.#pointRows.flush()
      for (const [i, g] of kRollups.entries()) {
        const st = s[g.table]!
        for (const a of rollups[i]!.values()) {
          st.run(a.series, a.bucket, a.count, a.min, a.max, a.sum, a.last, a.lastTs, a.lastLsn, a.maxLsn)
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
   * base). Rollup buckets go when their newest record is gone; a bucket straddling the cut keeps
   * its totals until then. Returns the number of records dropped.
   */
  prune(minLsn: number): number {
    const prev = this.db.prepare("SELECT value FROM meta WHERE key = 'pruned_below'").get() as
      | { value: number }
      | undefined
    if (prev !== undefined && prev.value >= minLsn) return 0
    this.db.exec('BEGIN IMMEDIATE')
    try {
      const n = Number(this.db.prepare('DELETE FROM records WHERE lsn < ?').run(minLsn).changes)
      this.db.prepare('DELETE FROM points WHERE lsn < ?').run(minLsn)
      for (const g of kRollups) this.db.prepare(`DELETE FROM ${g.table} WHERE max_lsn < ?`).run(minLsn)
      this.db
        .prepare(
          "INSERT INTO meta (key, value) VALUES ('pruned_below', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .run(minLsn)
      this.db.exec('COMMIT')
      return n
    } catch (err) {
      this.#rollback()
      throw err
    }
  }

  #rollback(): void {
    // Ids handed out inside the failed transaction no longer exist.
    this.#names.clear()
    this.#series.clear()
    this.#recordRows.clear()
    this.#pointRows.clear()
    if (this.db.isTransaction) this.db.exec('ROLLBACK')
  }

  close(): void {
    if (this.db.isOpen) this.db.close()
  }
}
