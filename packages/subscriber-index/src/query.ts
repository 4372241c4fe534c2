/**
 * The read side: queries over a read-only connection (WAL lets it read while the subscriber
 * writes). Every query is bounded: callers pass a limit and get a cursor for the next page.
 * Parameter checking (and its 400s) lives in http.ts; this file trusts its inputs.
 */
import { existsSync } from 'node:fs'
import type { DatabaseSync, StatementSync } from 'node:sqlite'
import type { StoredRecord } from '@module-ingest/log'
import { Catalog } from './catalog.ts'
import { RangeQueries } from './range.ts'
import { kRunSpanUs } from './runs.ts'
import { kCore, kModule, openDatabase } from './schema.ts'

export const kAggregations = ['avg', 'min', 'max', 'sum', 'count', 'last'] as const
export type Aggregation = (typeof kAggregations)[number]
/**
 * How `rangeJson` writes each series: `points`, `[[t, v], …]` of the buckets that have data;
 * `values`, one value per bucket from `fromUs` at the step, `null` where a bucket is empty (less
 * than half the bytes for a full series: no timestamps).
 */
export const kRangeFormats = ['points', 'values'] as const
export type RangeFormat = (typeof kRangeFormats)[number]

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
  /** `rangeJson` only; default `points`. */
  format?: RangeFormat
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

/** A record found by time: the log's record, body included. */
export type FoundRecord = StoredRecord

/** Reads a log lsn range for `records` (log-source.ts for the real log). */
export interface RecordSource {
  /** Visit the records the log still holds with lsns in [first, last], in lsn order. */
  read(first: number, last: number, visit: (r: FoundRecord) => void): Promise<void>
}

/** Record runs fetched per statement while scanning. */
const kRunsPerRead = 256

export class IndexReader {
  readonly path: string
  #db: DatabaseSync | undefined
  #stmts = new Map<string, StatementSync>()
  #catalog = new Catalog((sql) => this.#prep(sql))
  #ranges = new RangeQueries(
    (sql) => this.#prep(sql),
    () => this.#must(),
    this.#catalog,
  )

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

  /**
   * A statement prepared once per connection: preparing costs about as much as running a small
   * query. A statement's return-arrays mode is set where it is used and stays with its SQL.
   */
  #prep(sql: string): StatementSync {
    let st = this.#stmts.get(sql)
    if (st === undefined) {
      st = this.#must().prepare(sql)
      this.#stmts.set(sql, st)
    }
    return st
  }

  #must(): DatabaseSync {
    const db = this.#open()
    if (db === undefined) throw new Error(`index file ${this.path} does not exist yet`)
    return db
  }

  status(): { appliedLsn: number; modules: number; series: number } {
    const a = this.#prep('SELECT max(lsn) AS lsn, count(*) AS n FROM applied').get() as {
      lsn: number | null
      n: number
    }
    const s = this.#prep('SELECT count(*) AS n FROM series').get() as { n: number }
    return { appliedLsn: a.lsn ?? 0, modules: a.n, series: s.n }
  }

  series(q: SeriesQuery): { series: SeriesRow[]; after?: number } {
    const { ids, names } = this.#catalog.streamIds(q.streams)
    const moduleId = this.#catalog.moduleId(q.module)
    if (moduleId === null) return { series: [] }
    const modules = this.#catalog.names(kModule)
    const rows = this.#prep(
      `SELECT id, stream, module, field, last, last_ts, last_lsn FROM series
         WHERE id > ? AND stream IN (SELECT value FROM json_each(?))
           AND (? IS NULL OR module = ?) AND (? IS NULL OR field = ?)
         ORDER BY id LIMIT ?`,
    ).all(
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
    return this.#ranges.range(q)
  }

  /**
   * `range` with its `series` as JSON bytes in parts (concatenated: `JSON.stringify(range(q).series)`),
   * see range.ts.
   */
  rangeJson(q: RangeQuery): Omit<RangeResult, 'series'> & { seriesJson: Buffer[] } {
    return this.#ranges.rangeJson(q)
  }

  /**
   * Records in a time range, in (ts, lsn) order, one page at a time. Runs overlapping the range
   * are taken in `min_ts` order and their lsns read from the log (`source`), keeping the records
   * that match exactly; it stops as soon as no later run can hold a record sorting before the
   * page's last one.
   */
  async records(
    q: RecordsQuery,
    source: RecordSource,
  ): Promise<{ records: FoundRecord[]; next?: { ts: number; lsn: number } }> {
    const { ids, names } = this.#catalog.streamIds(q.streams)
    const moduleId = this.#catalog.moduleId(q.module)
    if (moduleId === null) return { records: [] }
    const modules = this.#catalog.names(kModule)
    const cores = this.#catalog.names(kCore)
    const afterTs = q.after?.ts ?? Number.MIN_SAFE_INTEGER
    const afterLsn = q.after?.lsn ?? 0
    const lo = Math.max(q.fromUs, afterTs)
    const stmt = this.#prep(
      `SELECT min_ts, first_lsn, last_lsn, stream, module, core FROM record_runs
       WHERE (min_ts, first_lsn) > (?, ?) AND min_ts < ? AND max_ts >= ? AND last_lsn >= ?
         AND stream IN (SELECT value FROM json_each(?)) AND (? IS NULL OR module = ?)
       ORDER BY min_ts, first_lsn LIMIT ${kRunsPerRead}`,
    )
    stmt.setReturnArrays(true)
    const found: FoundRecord[] = []
    // A ts above 2^53-1 is indexed as 2^53-1 (writer.ts): filter and page by the same value.
    const tsOf = (r: { ts: number | bigint }) => (typeof r.ts === 'number' ? r.ts : Number.MAX_SAFE_INTEGER)
    const byKey = (a: FoundRecord, b: FoundRecord) => tsOf(a) - tsOf(b) || a.lsn - b.lsn
    // Runs start at most kRunSpanUs before their records: none earlier can reach `lo`.
    let cursor: [number, number] = [lo - kRunSpanUs, -1]
    scan: for (;;) {
      const runs = stmt.all(
        cursor[0],
        cursor[1],
        q.toUs,
        lo,
        q.minLsn,
        ids,
        moduleId ?? null,
        moduleId ?? null,
      ) as unknown as Array<[number, number, number, number, number, number]>
      for (const [minTs, firstLsn, lastLsn, streamId, moduleIdOfRun, coreId] of runs) {
        if (found.length > q.limit) {
          found.sort(byKey)
          found.length = q.limit + 1
          if (tsOf(found[q.limit]!) < minTs) break scan
        }
        const stream = names.get(streamId) ?? ''
        const module = modules.get(moduleIdOfRun) ?? ''
        const core = cores.get(coreId) ?? ''
        await source.read(Math.max(firstLsn, q.minLsn), lastLsn, (r) => {
          if (r.stream !== stream || r.module !== module || r.core !== core) return
          const ts = tsOf(r)
          if (ts < q.fromUs || ts >= q.toUs) return
          if (ts < afterTs || (ts === afterTs && r.lsn <= afterLsn)) return
          // The cursor reuses its buffers: keep a copy.
          found.push({ ...r, body: r.body.slice() })
        })
      }
      if (runs.length < kRunsPerRead) break
      const last = runs.at(-1)!
      cursor = [last[0], last[1]]
    }
    found.sort(byKey)
    const records = found.slice(0, q.limit)
    const last = records.at(-1)
    return found.length > q.limit && last ? { records, next: { ts: tsOf(last), lsn: last.lsn } } : { records }
  }

  close(): void {
    this.#stmts.clear()
    this.#catalog.clear()
    this.#ranges.clear()
    this.#db?.close()
    this.#db = undefined
  }
}
