/**
 * The read side: queries over a read-only connection (WAL lets it read while the subscriber
 * writes). Every query is bounded: callers pass a limit and get a cursor for the next page.
 * Parameter checking (and its 400s) lives in http.ts; this file trusts its inputs.
 */
import { existsSync } from 'node:fs'
import type { DatabaseSync, StatementSync } from 'node:sqlite'
import type { StoredRecord } from '@module-ingest/log'
import { aggregateAt, cellsOf, kCell, kMinuteUs, kSecondUs, minuteOf, type Totals } from './chunk.ts'
import { MinuteTexts } from './minute-text.ts'
import { kRunSpanUs } from './runs.ts'
import { kCore, kModule, kStream, openDatabase } from './schema.ts'

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

/** A record found by time: the log's record, body included. */
export type FoundRecord = StoredRecord

/** Reads a log lsn range for `records` (log-source.ts for the real log). */
export interface RecordSource {
  /** Visit the records the log still holds with lsns in [first, last], in lsn order. */
  read(first: number, last: number, visit: (r: FoundRecord) => void): Promise<void>
}

const kOpen = Buffer.from('[')
const kComma = Buffer.from(',')
const kCloseSeries = Buffer.from(']}')
const kClose = Buffer.from(']')

/** Record runs fetched per statement while scanning. */
const kRunsPerRead = 256

/** Most raw points one range page may scan before it is refused. */
export const kMaxRawRows = 500_000

export class IndexReader {
  readonly path: string
  #db: DatabaseSync | undefined
  #stmts = new Map<string, StatementSync>()
  /** The JSON text of whole minutes' cells, for `rangeJson`. */
  #minutes = new MinuteTexts()
  /** `#seriesOf` answers by its parameters, with the series table's max(id) they were read at. */
  #seriesCache = new Map<string, { top: number; series: SeriesIds }>()
  #nameCache: {
    top: number
    byKind: Map<number, Map<number, string>>
    /** Module name → id. */
    byName?: Map<string, number>
  } = { top: -1, byKind: new Map() }

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

  /**
   * The names of one kind (id → name), kept while the table's largest id is unchanged: names are
   * only ever added (the writer never deletes or renames one; a rebuild is another file), so one
   * `max(id)` replaces reading them all on every query.
   */
  #names(kind: number): Map<number, string> {
    const top = (this.#prep('SELECT max(id) AS top FROM names').get() as { top: number | null }).top ?? 0
    if (this.#nameCache.top !== top) this.#nameCache = { top, byKind: new Map() }
    let names = this.#nameCache.byKind.get(kind)
    if (names === undefined) {
      const rows = this.#prep('SELECT id, name FROM names WHERE kind = ?').all(kind) as Array<{
        id: number
        name: string
      }>
      names = new Map(rows.map((r) => [r.id, r.name]))
      this.#nameCache.byKind.set(kind, names)
    }
    return names
  }

  /** Ids of the streams passing `filter` (a JSON array for `IN (SELECT value FROM json_each(?))`). */
  #streamIds(filter: StreamFilter): { ids: string; names: Map<number, string> } {
    const names = this.#names(kStream)
    const ids = [...names].filter(([, n]) => filter(n)).map(([id]) => id)
    return { ids: JSON.stringify(ids), names }
  }

  #moduleId(module: string | undefined): number | undefined | null {
    if (module === undefined) return undefined
    const modules = this.#names(kModule)
    this.#nameCache.byName ??= new Map([...modules].map(([id, n]) => [n, id]))
    return this.#nameCache.byName.get(module) ?? null
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
    const { ids, names } = this.#streamIds(q.streams)
    const moduleId = this.#moduleId(q.module)
    if (moduleId === null) return { series: [] }
    const modules = this.#names(kModule)
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
    const plan = this.#plan(q)
    if ('done' in plan) return plan.done
    const { result, series, names, modules, from, pageEnd, step, source, stmt } = plan
    // A step equal to the rollup's granularity maps rows to buckets one to one: no merging.
    const direct =
      (source === 'rollup_1m' && step === kMinuteUs) || (source === 'rollup_1s' && step === kSecondUs)
    for (const s of series) {
      const rows =
        source === 'rollup_1s'
          ? secondRows(
              stmt.all(s.id, minuteOf(from), pageEnd) as unknown as Array<[number, Uint8Array]>,
              from,
              pageEnd,
            )
          : (stmt.all(s.id, from, pageEnd) as unknown as Row[])
      if (rows.length > kMaxRawRows)
        throw Object.assign(new Error('too many raw points'), { tooManyRaw: true })
      if (direct) {
        result.series.push({
          stream: names.get(s.stream) ?? '',
          module: modules.get(s.module) ?? '',
          field: q.field,
          points: rows.map((r) => [r[0], aggregateAt(r, 0, q.agg)]),
        })
        continue
      }
      const buckets = new Map<number, Totals>()
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

  /**
   * `range` with its `series` as JSON bytes, equal to `JSON.stringify(range(q).series)`. The common
   * query (1 s step over the per-second cells) is written straight from the cells, each whole
   * minute's text cached (minute-text.ts) under the row's version (count, max_lsn): an hour is
   * then one 60-row read of small columns and one copy, instead of 60 blobs decoded into 3,600
   * bucket arrays and 3,600 numbers formatted. Other steps stringify `range`.
   */
  rangeJson(q: RangeQuery): Omit<RangeResult, 'series'> & { seriesJson: Buffer } {
    const plan = q.stepUs === kSecondUs ? this.#plan(q) : { done: this.range(q) }
    if ('done' in plan) {
      const { series, ...rest } = plan.done
      return { ...rest, seriesJson: Buffer.from(JSON.stringify(series)) }
    }
    const { result, series, names, modules, from, pageEnd } = plan
    const versions = this.#prep(
      'SELECT minute, count, max_lsn FROM rollup WHERE series = ? AND minute >= ? AND minute < ? ORDER BY minute',
    )
    versions.setReturnArrays(true)
    const cells = this.#prep('SELECT cells FROM rollup WHERE series = ? AND minute = ?')
    cells.setReturnArrays(true)
    const parts: Buffer[] = [kOpen]
    // One read transaction: a version and the cells read for it are the same row state.
    const db = this.#must()
    db.exec('BEGIN')
    try {
      for (const s of series) {
        if (parts.length > 1) parts.push(kComma)
        const head = JSON.stringify({
          stream: names.get(s.stream) ?? '',
          module: modules.get(s.module) ?? '',
          field: q.field,
        })
        parts.push(Buffer.from(`${head.slice(0, -1)},"points":[`))
        const rows = versions.all(s.id, minuteOf(from), pageEnd) as unknown as Array<[number, number, number]>
        let first = true
        for (const [minute, count, maxLsn] of rows) {
          const text = this.#minutes.text(s.id, minute, count, maxLsn, q.agg, from, pageEnd, () => {
            const row = cells.get(s.id, minute) as unknown as [Uint8Array]
            return row[0]
          })
          if (text.length === 0) continue
          if (!first) parts.push(kComma)
          parts.push(text)
          first = false
        }
        parts.push(kCloseSeries)
      }
    } finally {
      db.exec('COMMIT')
    }
    parts.push(kClose)
    const { series: _, ...rest } = result
    return { ...rest, seriesJson: Buffer.concat(parts) }
  }

  /**
   * The series (id order, at most `limit`) of a field in streams `ids` (and a module). Kept while
   * the table's largest id is unchanged: series are only ever added, and the columns read here
   * never change (the writer updates only `last*`).
   */
  #seriesOf(field: string, ids: string, moduleId: number | undefined, limit: number): SeriesIds {
    const top = (this.#prep('SELECT max(id) AS top FROM series').get() as { top: number | null }).top ?? 0
    const key = `${field}\n${ids}\n${moduleId ?? ''}\n${limit}`
    const hit = this.#seriesCache.get(key)
    if (hit?.top === top) return hit.series
    const series = this.#prep(
      `SELECT id, stream, module FROM series WHERE field = ? AND stream IN (SELECT value FROM json_each(?))
         AND (? IS NULL OR module = ?) ORDER BY id LIMIT ?`,
    ).all(field, ids, moduleId ?? null, moduleId ?? null, limit) as SeriesIds
    if (this.#seriesCache.size >= 256) this.#seriesCache.clear()
    this.#seriesCache.set(key, { top, series })
    return series
  }

  /** What `range` and `rangeJson` share: the page, the source, the series and the statement. */
  #plan(q: RangeQuery):
    | { done: RangeResult }
    | {
        result: RangeResult
        series: SeriesIds
        names: Map<number, string>
        modules: Map<number, string>
        from: number
        pageEnd: number
        step: number
        source: RangeResult['source']
        stmt: StatementSync
      } {
    const step = q.stepUs
    const from = q.fromUs - (((q.fromUs % step) + step) % step)
    // Whole buckets only: the last one is the bucket holding `to - 1` (rollups cannot be cut).
    const to = q.toUs - 1 - ((((q.toUs - 1) % step) + step) % step) + step
    const pageEnd = Math.min(to, from + q.limit * step)
    // Minute totals for whole minutes, the per-second cells for whole seconds, else raw points.
    const source = step % kMinuteUs === 0 ? 'rollup_1m' : step % kSecondUs === 0 ? 'rollup_1s' : 'points'
    const result: RangeResult = { source, fromUs: from, toUs: to, series: [] }
    if (pageEnd < to) result.nextFromUs = pageEnd
    const { ids, names } = this.#streamIds(q.streams)
    const moduleId = this.#moduleId(q.module)
    if (moduleId === null) return { done: result }
    const modules = this.#names(kModule)
    const series = this.#seriesOf(q.field, ids, moduleId, q.maxSeries + 1)
    if (series.length > q.maxSeries) {
      const n = this.#prep(
        `SELECT count(*) AS n FROM series WHERE field = ? AND stream IN (SELECT value FROM json_each(?))
           AND (? IS NULL OR module = ?)`,
      ).get(q.field, ids, moduleId ?? null, moduleId ?? null) as { n: number }
      return { done: { ...result, tooManySeries: n.n } }
    }
    if (source === 'points') {
      const raw = this.#prep("SELECT value FROM meta WHERE key = 'raw_points'").get() as
        | { value: number }
        | undefined
      if (raw?.value !== 1) return { done: { ...result, noRawPoints: true } }
    }
    const stmt =
      source === 'points'
        ? this.#prep(
            `SELECT ts AS bucket, 1 AS count, value AS min, value AS max, value AS sum, value AS last,
               ts AS last_ts, lsn AS last_lsn
             FROM points WHERE series = ? AND ts >= ? AND ts < ? ORDER BY ts LIMIT ${kMaxRawRows + 1}`,
          )
        : source === 'rollup_1m'
          ? this.#prep(
              `SELECT minute, count, min, max, sum, last, last_ts, last_lsn FROM rollup
               WHERE series = ? AND minute >= ? AND minute < ? ORDER BY minute`,
            )
          : this.#prep(
              'SELECT minute, cells FROM rollup WHERE series = ? AND minute >= ? AND minute < ? ORDER BY minute',
            )
    // Arrays, not objects: a 1 h range at 1 s step is 3,600 buckets per series.
    stmt.setReturnArrays(true)
    return { result, series, names, modules, from, pageEnd, step, source, stmt }
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
    const { ids, names } = this.#streamIds(q.streams)
    const moduleId = this.#moduleId(q.module)
    if (moduleId === null) return { records: [] }
    const modules = this.#names(kModule)
    const cores = this.#names(kCore)
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
    this.#minutes.clear()
    this.#seriesCache.clear()
    this.#nameCache = { top: -1, byKind: new Map() }
    this.#db?.close()
    this.#db = undefined
  }
}

type SeriesIds = Array<{ id: number; stream: number; module: number }>

/** bucket, count, min, max, sum, last, last_ts, last_lsn */
type Row = [number, number, number, number, number, number, number, number]

/** The per-second rows in [from, to) of (minute, cells) chunk rows, in time order. */
function secondRows(chunks: Array<[number, Uint8Array]>, from: number, to: number): Row[] {
  const out: Row[] = []
  for (const [minute, blob] of chunks) {
    const c = cellsOf(blob)
    for (let i = 0; i < c.length; i += kCell) {
      const t = minute + c[i]! * kSecondUs
      if (t >= from && t < to)
        out.push([t, c[i + 1]!, c[i + 2]!, c[i + 3]!, c[i + 4]!, c[i + 5]!, c[i + 6]!, c[i + 7]!])
    }
  }
  return out
}

function aggregate(a: Totals, agg: Aggregation): number {
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
