/**
 * The query API's parameters: which endpoint takes which (`kQueryEndpoints`), what each means
 * (`kQueryParams`), and parsing them: the listener's strict `QueryParams` (unknown or repeated
 * parameters, empty values, integers), plus the index's own kinds (times, durations, choices), every
 * bad value a coded MI_ERR_INDEX_QUERY_INVALID naming the parameter.
 */
import { kBodyFormats } from '@module-ingest/log'
import { QueryParams } from '@module-ingest/telemetry/json-api'
import { MI_ERR_INDEX_QUERY_INVALID } from './errors.ts'
import { type Aggregation, kAggregations, kRangeFormats } from './query.ts'

/** `body=` of records: how a record's body is written, or `none` to leave it out. */
export const kRecordBodies = [...kBodyFormats, 'none'] as const

/**
 * Every query parameter, one definition for both of its users: the HTTP handler (http.ts) accepts
 * exactly its endpoint's list from `kQueryEndpoints` (anything else is a 400), and the CLI
 * (`module-ingest query`, apps/server) has one `--<name> <value>` flag per entry, with `help` as
 * its help text, and passes the given ones on for the server to check.
 */
export const kQueryParams = {
  index: { value: '<name>', help: 'index subscriber name (when the server runs several)' },
  stream: { value: '<name|glob>', help: 'stream name or glob' },
  module: { value: '<name>', help: 'module name' },
  field: { value: '<path>', help: 'JSON field (range: required)' },
  from: { value: '<time>', help: 'now-1h, RFC 3339 or µs since the epoch' },
  to: { value: '<time>', help: 'default now' },
  step: { value: '<duration>', help: 'range bucket, e.g. 1s, 1m' },
  agg: { value: '<fn>', help: kAggregations.join(' | ') },
  limit: { value: '<n>', help: 'page size' },
  after: { value: '<cursor>', help: "start after this cursor (a reply's next)" },
  format: {
    value: '<shape>',
    help: `range: ${kRangeFormats.join(' | ')} (values: one value per step, no timestamps)`,
  },
  body: { value: '<format>', help: `records: ${kRecordBodies.join(' | ')} (default auto)` },
} as const satisfies Record<string, { value: string; help: string }>

export type QueryParam = keyof typeof kQueryParams

const kSeriesParams = ['index', 'stream', 'module', 'field', 'limit', 'after'] as const

/** The endpoints under /index/v1/ and the parameters each accepts. */
export const kQueryEndpoints = {
  status: ['index'],
  series: kSeriesParams,
  latest: kSeriesParams,
  range: ['index', 'stream', 'module', 'field', 'from', 'to', 'step', 'agg', 'limit', 'format'],
  records: ['index', 'stream', 'module', 'from', 'to', 'limit', 'after', 'body'],
} as const satisfies Record<string, readonly QueryParam[]>

export type QueryEndpoint = keyof typeof kQueryEndpoints

const kRfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/
const kUnitsUs: Record<string, number> = {
  us: 1,
  ms: 1_000,
  s: 1_000_000,
  m: 60_000_000,
  h: 3_600_000_000,
  d: 86_400_000_000,
}
/** Longest step accepted: 31 days. */
export const kMaxStepUs = 31 * kUnitsUs.d!

export const bad = (message: string) => new MI_ERR_INDEX_QUERY_INVALID(message)

export class Params extends QueryParams {
  constructor(q: URLSearchParams, known: readonly string[]) {
    super(q, known, bad)
  }

  /** `now`, `now-5m`, RFC 3339 (`2026-12-06T10:00:00Z`), or integer µs since the epoch. */
  time(name: string, nowUs: number, dflt?: number): number {
    const v = this.string(name)
    if (v === undefined) {
      if (dflt === undefined) throw bad(`parameter "${name}" is required`)
      return dflt
    }
    if (v === 'now') return nowUs
    const rel = /^now-(\d+)(us|ms|s|m|h|d)$/.exec(v)
    if (rel) return nowUs - Number(rel[1]) * kUnitsUs[rel[2]!]!
    if (/^-?\d{1,17}$/.test(v)) return Number(v)
    if (kRfc3339.test(v)) {
      const ms = Date.parse(v)
      if (Number.isFinite(ms)) {
        // Date keeps milliseconds: add the sub-millisecond digits back.
        const frac = /\.(\d+)/.exec(v)?.[1] ?? ''
        return ms * 1000 + Number(frac.padEnd(6, '0').slice(3, 6))
      }
    }
    throw bad(
      `parameter "${name}": expected now, now-<n><us|ms|s|m|h|d>, an RFC 3339 time or integer µs since the epoch, got "${v}"`,
    )
  }

  /** `<n><us|ms|s|m|h|d>`, e.g. `1s`, `500ms`, `5m`. */
  duration(name: string, dflt: number): number {
    const v = this.string(name)
    if (v === undefined) return dflt
    const m = /^(\d{1,12})(us|ms|s|m|h|d)$/.exec(v)
    const us = m ? Number(m[1]) * kUnitsUs[m[2]!]! : Number.NaN
    if (!m || us < 1 || us > kMaxStepUs)
      throw bad(`parameter "${name}": expected a duration from 1us to 31d like 1s, 500ms or 5m, got "${v}"`)
    return us
  }

  oneOf<T extends string>(name: string, values: readonly T[], dflt: T): T {
    const v = this.string(name)
    if (v === undefined) return dflt
    if (!(values as readonly string[]).includes(v))
      throw bad(`parameter "${name}": expected one of ${values.join(', ')}, got "${v}"`)
    return v as T
  }

  agg(): Aggregation {
    return this.oneOf('agg', kAggregations, 'avg')
  }
}
