/**
 * Range queries of a field (`IndexReader.range` / `rangeJson`): buckets of a step from the 1 min
 * rollup columns, the 1 s cells or raw points. `rangeJson` writes the HTTP reply's series straight
 * as JSON bytes for the common 1 s step, whole minutes cached (minute-text.ts).
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite'
import type { Catalog, SeriesIds } from './catalog.ts'
import { aggregateAt, cellsOf, kCell, kMinuteUs, kSecondUs, minuteOf, type Totals } from './chunk.ts'
import { MinuteTexts } from './minute-text.ts'
import type { Aggregation, RangeQuery, RangeResult } from './query.ts'
import { kModule } from './schema.ts'

/** Most raw points one range page may scan before it is refused. */
export const kMaxRawRows = 500_000

const kOpen = Buffer.from('[')
const kComma = Buffer.from(',')
const kCloseSeries = Buffer.from(']}')
const kClose = Buffer.from(']')
const kOpenSeries = { points: Buffer.from(',"points":['), values: Buffer.from(',"values":[') }

export class RangeQueries {
  readonly #prep: (sql: string) => StatementSync
  readonly #db: () => DatabaseSync
  readonly #catalog: Catalog
  /** The JSON text of whole minutes' cells, for `rangeJson`. */
  #minutes = new MinuteTexts()

  constructor(prep: (sql: string) => StatementSync, db: () => DatabaseSync, catalog: Catalog) {
    this.#prep = prep
    this.#db = db
    this.#catalog = catalog
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
   * `range` with its `series` as JSON bytes in parts, which concatenated are
   * `JSON.stringify(range(q).series)` (format `points`) or the same series with `values` (one per
   * bucket of the page, `null` for an empty one: `denseValues`) instead of `points`. The common
   * query (1 s step over the per-second cells) is written straight from the cells, each whole
   * minute's text cached (minute-text.ts) under the row's version (count, max_lsn): an hour is
   * then one 60-row read of small columns, instead of 60 blobs decoded into 3,600 bucket arrays
   * and 3,600 numbers formatted. The reply copies the parts once (telemetry's JsonText). Other
   * steps stringify `range`.
   */
  rangeJson(q: RangeQuery): Omit<RangeResult, 'series'> & { seriesJson: Buffer[] } {
    const shape = q.format ?? 'points'
    const plan = q.stepUs === kSecondUs ? this.#plan(q) : { done: this.range(q) }
    if ('done' in plan) {
      const { series, ...rest } = plan.done
      const out =
        shape === 'points'
          ? series
          : series.map(({ points, ...s }) => ({
              ...s,
              values: denseValues(points, rest.fromUs, rest.nextFromUs ?? rest.toUs, q.stepUs),
            }))
      return { ...rest, seriesJson: [Buffer.from(JSON.stringify(out))] }
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
    const db = this.#db()
    db.exec('BEGIN')
    try {
      for (const s of series) {
        if (parts.length > 1) parts.push(kComma)
        const head = JSON.stringify({
          stream: names.get(s.stream) ?? '',
          module: modules.get(s.module) ?? '',
          field: q.field,
        })
        parts.push(Buffer.from(head.slice(0, -1)), kOpenSeries[shape])
        const rows = versions.all(s.id, minuteOf(from), pageEnd) as unknown as Array<[number, number, number]>
        let first = true
        // values: the first second not yet written; the seconds up to a minute's are nulls.
        let next = from
        const pad = (until: number) => {
          if (until <= next) return
          const n = (until - next) / kSecondUs
          parts.push(Buffer.from(first ? kNulls(n).slice(1) : kNulls(n), 'latin1'))
          first = false
        }
        for (const [minute, count, maxLsn] of rows) {
          if (shape === 'values') pad(Math.max(minute, from))
          const text = this.#minutes.text(s.id, minute, count, maxLsn, q.agg, shape, from, pageEnd, () => {
            const row = cells.get(s.id, minute) as unknown as [Uint8Array]
            return row[0]
          })
          if (shape === 'values') next = Math.min(minute + kMinuteUs, pageEnd)
          if (text.length === 0) continue
          if (!first) parts.push(kComma)
          parts.push(text)
          first = false
        }
        if (shape === 'values') pad(pageEnd)
        parts.push(kCloseSeries)
      }
    } finally {
      db.exec('COMMIT')
    }
    parts.push(kClose)
    const { series: _, ...rest } = result
    // Parts, not one buffer: the reply copies them once, with its head and tail.
    return { ...rest, seriesJson: parts }
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
    const { ids, names } = this.#catalog.streamIds(q.streams)
    const moduleId = this.#catalog.moduleId(q.module)
    if (moduleId === null) return { done: result }
    const modules = this.#catalog.names(kModule)
    const series = this.#catalog.seriesOf(q.field, ids, moduleId, q.maxSeries + 1)
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

  clear(): void {
    this.#minutes.clear()
  }
}

/** `,null` n times: the empty buckets between two minutes of the `values` format. */
function kNulls(n: number): string {
  return ',null'.repeat(n)
}

/**
 * One value per bucket of [from, to) at `step`, `null` where `points` has none (and for a
 * non-finite value, as JSON.stringify writes it): the `values` format of `rangeJson`.
 */
export function denseValues(points: Array<[number, number]>, from: number, to: number, step: number) {
  const out: Array<number | null> = new Array((to - from) / step).fill(null)
  for (const [t, v] of points) out[(t - from) / step] = v
  return out
}

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
