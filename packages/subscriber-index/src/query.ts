/**
 * The read side: queries over a read-only connection (WAL lets it read while the subscriber
 * writes). Every query is bounded: callers pass a limit and get a cursor for the next page.
 * Parameter checking (and its 400s) lives in http.ts; this file trusts its inputs.
 */
import { existsSync } from 'node:fs'
import type { DatabaseSync } from 'node:sqlite'
import { kCore, kModule, kRollups, kStream, openDatabase } from './schema.ts'

export const kAggregations = ['avg', 'min', 'max', 'sum', 'count', 'last'] as const
export type Aggregation = (typeof kAggregations)[number]

/** Which streams a caller may see and asked for. */
export type StreamFilter = (stream: string) => boolean

export interface SeriesRow {
  stream: string
  module: string
  field: string
  /** Latest point: producer time (µs), value, lsn. Null before the first point. */
  ts: number | null
  value: number | null
  lsn: number | null
}

export interface SeriesQuery {
  streams: StreamFilter
  module?: string
  field?: string
  limit: number
  /** Opaque cursor from the previous page (a series id). */
  after?: number
}

export interface RangeQuery {
  streams: StreamFilter
  module?: string
  field: string
  /** µs, inclusive; rounded down to a multiple of step. */
  fromUs: number
  /** µs, exclusive; rounded up to a multiple of step (buckets are never cut). */
  toUs: number
  stepUs: number
  agg: Aggregation
  /** Buckets per page. */
  limit: number
  /** Refuse (return `tooMany`) rather than answer for more series than this. */
  maxSeries: number
}

export interface RangeResult {
  source: 'rollup_1m' | 'rollup_1s' | 'points'
  /** The range as answered: `from` rounded down, `to` up, to multiples of the step. */
  fromUs: number
  toUs: number
  series: Array<{ stream: string; module: string; field: string; points: Array<[number, number]> }>
  /** Pass as `from` for the next page; absent on the last page. */
  nextFromUs?: number
  tooManySeries?: number
  /** Raw points are needed for this step but the index keeps none. */
  noRawPoints?: boolean
}

export interface RecordsQuery {
  streams: StreamFilter
  module?: string
  fromUs: number
  toUs: number
  limit: number
  /** Resume after this (ts, lsn). */
  after?: { ts: number; lsn: number }
  /** Records below this lsn are gone from the log (retention): skip them. */
  minLsn: number
}

export interface RecordRow {
  lsn: number
  ts: number
  stream: string
  module: string
  core: string
}

/** Most raw points one range page may scan before it is refused. */
export const kMaxRawRows = 500_000

interface Acc {
  count: number
  min: number
  max: number
  sum: number
  last: number
  lastTs: number
  lastLsn: number
}

export class IndexReader {
  readonly path: string
  #db: DatabaseSync | undefined

  constructor(path: string) {
    this.path = path
  }

  /** False until the subscriber created the file. */
  get ready(): boolean {
    return this.#open() !== undefined
  }

  #open(): DatabaseSync | undefined {
    if (this.#db === undefined && existsSync(this.path))
      this.#db = openDatabase(this.path, { readOnly: true })
    return this.#db
  }

  #must(): DatabaseSync {
    const db = this.#open()
    if (db === undefined) throw new Error(`index file ${this.path} does not exist yet`)
    return db
  }

  #names(kind: number): Map<number, string> {
    const rows = this.#must().prepare('SELECT id, name FROM names WHERE kind = ?').all(kind) as Array<{
      id: number
      name: string
    }>
    return new Map(rows.map((r) => [r.id, r.name]))
  }

  /** Ids of the streams passing `filter` (a JSON array for `IN (SELECT value FROM json_each(?))`). */
  #streamIds(filter: StreamFilter): { ids: string; names: Map<number, string> } {
    const names = this.#names(kStream)
    const ids = [...names].filter(([, n]) => filter(n)).map(([id]) => id)
    return { ids: JSON.stringify(ids), names }
  }

  #moduleId(module: string | undefined): number | undefined | null {
    if (module === undefined) return undefined
    const row = this.#must()
      .prepare('SELECT id FROM names WHERE kind = ? AND name = ?')
      .get(kModule, module) as { id: number } | undefined
    return row?.id ?? null
  }

  status(): { appliedLsn: number; modules: number; series: number } {
    const db = this.#must()
    const a = db.prepare('SELECT max(lsn) AS lsn, count(*) AS n FROM applied').get() as {
      lsn: number | null
      n: number
    }
    const s = db.prepare('SELECT count(*) AS n FROM series').get() as { n: number }
    return { appliedLsn: a.lsn ?? 0, modules: a.n, series: s.n }
  }

  series(q: SeriesQuery): { series: SeriesRow[]; after?: number } {
    const db = this.#must()
    const { ids, names } = this.#streamIds(q.streams)
    const moduleId = this.#moduleId(q.module)
    if (moduleId === null) return { series: [] }
    const modules = this.#names(kModule)
    const rows = db
      .prepare(
        `SELECT id, stream, module, field, last, last_ts, last_lsn FROM series
         WHERE id > ? AND stream IN (SELECT value FROM json_each(?))
           AND (? IS NULL OR module = ?) AND (? IS NULL OR field = ?)
         ORDER BY id LIMIT ?`,
      )
      .all(
        q.after ?? 0,
        ids,
        moduleId ?? null,
        moduleId ?? null,
        q.field ?? null,
        q.field ?? null,
        q.limit + 1,
      ) as Array<{
      id: number
      stream: number
      module: number
      field: string
      last: number | null
      last_ts: number | null
      last_lsn: number | null
    }>
    const page = rows.slice(0, q.limit)
    const out = page.map((r) => ({
      stream: names.get(r.stream) ?? '',
      module: modules.get(r.module) ?? '',
      field: r.field,
      ts: r.last_ts,
      value: r.last,
      lsn: r.last_lsn,
    }))
    return rows.length > q.limit ? { series: out, after: page.at(-1)!.id } : { series: out }
  }

  range(q: RangeQuery): RangeResult {
    const db = this.#must()
    const step = q.stepUs
    const from = q.fromUs - (((q.fromUs % step) + step) % step)
    // Whole buckets only: the last one is the bucket holding `to - 1` (rollups cannot be cut).
    const to = q.toUs - 1 - ((((q.toUs - 1) % step) + step) % step) + step
    const pageEnd = Math.min(to, from + q.limit * step)
    const rollup = kRollups.find((g) => step % g.us === 0)
    const source = rollup?.table ?? 'points'
    const result: RangeResult = { source, fromUs: from, toUs: to, series: [] }
    if (pageEnd < to) result.nextFromUs = pageEnd
    const { ids, names } = this.#streamIds(q.streams)
    const moduleId = this.#moduleId(q.module)
    if (moduleId === null) return result
    const modules = this.#names(kModule)
    const series = db
      .prepare(
        `SELECT id, stream, module FROM series WHERE field = ? AND stream IN (SELECT value FROM json_each(?))
         AND (? IS NULL OR module = ?) ORDER BY id LIMIT ?`,
      )
      .all(q.field, ids, moduleId ?? null, moduleId ?? null, q.maxSeries + 1) as Array<{
      id: number
      stream: number
      module: number
    }>
    if (series.length > q.maxSeries) {
      const n = db
        .prepare(
          `SELECT count(*) AS n FROM series WHERE field = ? AND stream IN (SELECT value FROM json_each(?))
           AND (? IS NULL OR module = ?)`,
        )
        .get(q.field, ids, moduleId ?? null, moduleId ?? null) as { n: number }
      return { ...result, tooManySeries: n.n }
    }
    if (rollup === undefined) {
      const raw = db.prepare("SELECT value FROM meta WHERE key = 'raw_points'").get() as
        | { value: number }
        | undefined
      if (raw?.value !== 1) return { ...result, noRawPoints: true }
    }
    const stmt =
      rollup === undefined
        ? db.prepare(
            `SELECT ts AS bucket, 1 AS count, value AS min, value AS max, value AS sum, value AS last,
               ts AS last_ts, lsn AS last_lsn
             FROM points WHERE series = ? AND ts >= ? AND ts < ? ORDER BY ts LIMIT ${kMaxRawRows + 1}`,
          )
        : db.prepare(
            `SELECT bucket, count, min, max, sum, last, last_ts, last_lsn FROM ${rollup.table}
             WHERE series = ? AND bucket >= ? AND bucket < ? ORDER BY bucket`,
          )
    // Arrays, not objects: a 1 h range at 1 s step is 3,600 rows per series.
    stmt.setReturnArrays(true)
    // A step equal to the rollup's granularity maps rows to buckets one to one: no merging.
    const direct = rollup !== undefined && rollup.us === step
    for (const s of series) {
      const rows = stmt.all(s.id, from, pageEnd) as unknown as Row[]
      if (rows.length > kMaxRawRows)
        throw Object.assign(new Error('too many raw points'), { tooManyRaw: true })
      if (direct) {
        result.series.push({
          stream: names.get(s.stream) ?? '',
          module: modules.get(s.module) ?? '',
          field: q.field,
          points: rows.map((r) => [r[0], aggregateRow(r, q.agg)]),
        })
        continue
      }
      const buckets = new Map<number, Acc>()
      for (const r of rows) {
        const [bucket, count, min, max, sum, last, lastTs, lastLsn] = r
        const t = bucket - (((bucket % step) + step) % step)
        const a = buckets.get(t)
        if (a === undefined) {
          buckets.set(t, { count, min, max, sum, last, lastTs, lastLsn })
        } else {
          a.count += count
          if (min < a.min) a.min = min
          if (max > a.max) a.max = max
          a.sum += sum
          if (lastTs > a.lastTs || (lastTs === a.lastTs && lastLsn > a.lastLsn)) {
            a.last = last
            a.lastTs = lastTs
            a.lastLsn = lastLsn
          }
        }
      }
      const points: Array<[number, number]> = []
      for (const [t, a] of buckets) points.push([t, aggregate(a, q.agg)])
      result.series.push({
        stream: names.get(s.stream) ?? '',
        module: modules.get(s.module) ?? '',
        field: q.field,
        points,
      })
    }
    return result
  }

  records(q: RecordsQuery): { records: RecordRow[]; next?: { ts: number; lsn: number } } {
    const db = this.#must()
    const { ids, names } = this.#streamIds(q.streams)
    const moduleId = this.#moduleId(q.module)
    if (moduleId === null) return { records: [] }
    const modules = this.#names(kModule)
    const cores = this.#names(kCore)
    const afterTs = q.after?.ts ?? Number.MIN_SAFE_INTEGER
    const afterLsn = q.after?.lsn ?? 0
    const rows = db
      .prepare(
        `SELECT lsn, ts, stream, module, core FROM records
         WHERE ts >= ? AND ts < ? AND (ts > ? OR (ts = ? AND lsn > ?)) AND lsn >= ?
           AND stream IN (SELECT value FROM json_each(?)) AND (? IS NULL OR module = ?)
         ORDER BY ts, lsn LIMIT ?`,
      )
      .all(
        q.fromUs,
        q.toUs,
        afterTs,
        afterTs,
        afterLsn,
        q.minLsn,
        ids,
        moduleId ?? null,
        moduleId ?? null,
        q.limit + 1,
      ) as Array<{ lsn: number; ts: number; stream: number; module: number; core: number }>
    const page = rows.slice(0, q.limit)
    const records = page.map((r) => ({
      lsn: r.lsn,
      ts: r.ts,
      stream: names.get(r.stream) ?? '',
      module: modules.get(r.module) ?? '',
      core: cores.get(r.core) ?? '',
    }))
    const last = page.at(-1)
    return rows.length > q.limit && last ? { records, next: { ts: last.ts, lsn: last.lsn } } : { records }
  }

  close(): void {
    this.#db?.close()
    this.#db = undefined
  }
}

/** bucket, count, min, max, sum, last, last_ts, last_lsn */
type Row = [number, number, number, number, number, number, number, number]

function aggregateRow(r: Row, agg: Aggregation): number {
  switch (agg) {
    case 'avg':
      return r[4] / r[1]
    case 'min':
      return r[2]
    case 'max':
      return r[3]
    case 'sum':
      return r[4]
    case 'count':
      return r[1]
    case 'last':
      return r[5]
  }
}

function aggregate(a: Acc, agg: Aggregation): number {
  switch (agg) {
    case 'avg':
      return a.sum / a.count
    case 'min':
      return a.min
    case 'max':
      return a.max
    case 'sum':
      return a.sum
    case 'count':
      return a.count
    case 'last':
      return a.last
  }
}
