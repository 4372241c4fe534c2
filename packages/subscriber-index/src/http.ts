/**
 * The query API as an `HttpHandler` for the server's HTTP listener (the one serving /metrics):
 * it answers GET /index/v1/* and passes on everything else. See README "Query API".
 *
 * Every request needs `Authorization: Bearer <operator token>` with a `read:<stream pattern>` (or
 * `admin`) scope; results only ever hold streams those patterns match.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { bearerReadAccess, type VerifyOperator } from '@module-ingest/auth/bearer'
import { type BodyFormat, type Reader, recordToJson } from '@module-ingest/log'
import { matchPattern } from '@module-ingest/protocol'
import { HttpError, type JsonRoute, JsonText, jsonApiHandler } from '@module-ingest/telemetry/json-api'
import { MI_ERR_INDEX_QUERY_INVALID } from './errors.ts'
import { logRecordSource, oldestLogLsn, openReader } from './log-source.ts'
import { bad, kQueryEndpoints, kRecordBodies, Params, type QueryEndpoint } from './params.ts'
import { IndexReader, kRangeFormats, type StreamFilter } from './query.ts'
import { kMaxRawRows } from './range.ts'

export const kPrefix = '/index/v1/'
/** Page sizes: default and most per request. */
export const kLimits = {
  series: { dflt: 100, max: 1000 },
  records: { dflt: 100, max: 1000 },
  buckets: { dflt: 1000, max: 11_000 },
  maxSeries: 100,
} as const

/** What an operator token check returns (packages/auth `CredentialStore.verifyOperator`). */
export type VerifyToken = VerifyOperator

export interface IndexQueryOptions {
  /** The index instances: subscriber name → its SQLite file. */
  indexes: Array<{ name: string; path: string }>
  /** The log directory, for record bodies and retention. */
  logDir: string
  verify: VerifyToken
  /** For tests. */
  now?: () => number
}

/** (req, res) → true when answered; the telemetry listener's `HttpHandler` shape. */
export type IndexHttpHandler = ((req: IncomingMessage, res: ServerResponse) => Promise<boolean>) & {
  close(): Promise<void>
}

export function createIndexQueryHandler(options: IndexQueryOptions): IndexHttpHandler {
  const readers = new Map(options.indexes.map((i) => [i.name, new IndexReader(i.path)]))
  const now = options.now ?? (() => Date.now() * 1000)
  let log: Promise<Reader> | undefined
  const logReader = () => {
    log ??= openReader(options.logDir)
    return log
  }

  /** The requested stream (exact or glob) intersected with the readable patterns. */
  const streamFilter = (p: Params, patterns: string[]): StreamFilter => {
    const asked = p.string('stream')
    const readable = (s: string) => patterns.some((pat) => matchPattern(pat, s))
    if (asked === undefined) return readable
    if (!asked.includes('*') && !readable(asked))
      throw new HttpError(403, `no read scope covers stream "${asked}"`)
    return (s) => matchPattern(asked, s) && readable(s)
  }

  const pick = (p: Params): IndexReader => {
    const name = p.string('index')
    if (name === undefined) {
      if (readers.size === 1) return [...readers.values()][0]!
      throw bad(
        `parameter "index" is required: this server has ${readers.size} indexes (${[...readers.keys()].join(', ')})`,
      )
    }
    const r = readers.get(name)
    if (!r) throw new HttpError(404, `no index named "${name}" (known: ${[...readers.keys()].join(', ')})`)
    if (!r.ready) throw new HttpError(503, `index "${name}" has not been created yet`)
    return r
  }
  const ready = (r: IndexReader) => {
    if (!r.ready) throw new HttpError(503, `index file ${r.path} has not been created yet`)
    return r
  }

  /** series and latest: the latest point of each series, one page at a time (`after` = previous `next`). */
  const seriesPage = (q: URLSearchParams, patterns: string[]) => {
    const p = new Params(q, kQueryEndpoints.series)
    const r = ready(pick(p))
    const after = p.string('after')
    if (after !== undefined && !/^\d{1,15}$/.test(after))
      throw bad(`parameter "after": expected the "next" value of the previous page, got "${after}"`)
    const out = r.series({
      streams: streamFilter(p, patterns),
      module: p.string('module'),
      field: p.string('field'),
      limit: p.int('limit', kLimits.series.dflt, 1, kLimits.series.max),
      after: after === undefined ? undefined : Number(after),
    })
    return { rows: out.series, next: out.after !== undefined ? { next: String(out.after) } : {} }
  }

  // One route per endpoint of kQueryEndpoints (the type checks both ways).
  const routes: Record<QueryEndpoint, JsonRoute> = {
    status(q) {
      const p = new Params(q, kQueryEndpoints.status)
      const r = ready(pick(p))
      return { ...r.status(), logOldestLsn: oldestLogLsn(options.logDir) }
    },
    series(q, patterns) {
      const page = seriesPage(q, patterns)
      return {
        series: page.rows.map((s) => ({
          stream: s.stream,
          module: s.module,
          field: s.field,
          latest: { ts: s.ts, value: s.value, lsn: s.lsn },
        })),
        ...page.next,
      }
    },
    latest(q, patterns) {
      const page = seriesPage(q, patterns)
      return { latest: page.rows, ...page.next }
    },
    range(q, patterns) {
      const p = new Params(q, kQueryEndpoints.range)
      const r = ready(pick(p))
      const t = now()
      const toUs = p.time('to', t, t)
      const fromUs = p.time('from', t)
      const stepUs = p.duration('step', 1_000_000)
      if (fromUs >= toUs) throw bad(`"from" (${fromUs}) must be before "to" (${toUs})`)
      const out = r.rangeJson({
        streams: streamFilter(p, patterns),
        module: p.string('module'),
        field: p.required('field'),
        fromUs,
        toUs,
        stepUs,
        agg: p.agg(),
        limit: p.int('limit', kLimits.buckets.dflt, 1, kLimits.buckets.max),
        maxSeries: kLimits.maxSeries,
        format: p.oneOf('format', kRangeFormats, 'points'),
      })
      if (out.tooManySeries !== undefined)
        throw bad(
          `${out.tooManySeries} series match (at most ${kLimits.maxSeries}): narrow with stream= or module=`,
        )
      if (out.noRawPoints)
        throw bad(
          `parameter "step": this index keeps no raw points (rawPoints: false), so step must be a multiple of 1s`,
        )
      // The object { source, fromUs, toUs, stepUs, series, next? } as JSON.stringify writes it, with
      // the series' text from rangeJson (3,600 buckets an hour at 1 s: formatted once, see range.ts).
      const head = JSON.stringify({ source: out.source, fromUs: out.fromUs, toUs: out.toUs, stepUs })
      const next = out.nextFromUs !== undefined ? `,"next":"${out.nextFromUs}"` : ''
      return new JsonText([`${head.slice(0, -1)},"series":`, ...out.seriesJson, `${next}}`])
    },
    async records(q, patterns) {
      const p = new Params(q, kQueryEndpoints.records)
      const r = ready(pick(p))
      const t = now()
      const toUs = p.time('to', t, t)
      const fromUs = p.time('from', t)
      if (fromUs >= toUs) throw bad(`"from" (${fromUs}) must be before "to" (${toUs})`)
      const format = p.oneOf('body', kRecordBodies, 'auto')
      const afterText = p.string('after')
      let after: { ts: number; lsn: number } | undefined
      if (afterText !== undefined) {
        const m = /^(-?\d{1,17}):(\d{1,16})$/.exec(afterText)
        if (!m)
          throw bad(`parameter "after": expected the "next" value of the previous page, got "${afterText}"`)
        after = { ts: Number(m[1]), lsn: Number(m[2]) }
      }
      const out = await r.records(
        {
          streams: streamFilter(p, patterns),
          module: p.string('module'),
          fromUs,
          toUs,
          limit: p.int('limit', kLimits.records.dflt, 1, kLimits.records.max),
          minLsn: oldestLogLsn(options.logDir),
          ...(after ? { after } : {}),
        },
        logRecordSource(await logReader()),
      )
      const records = out.records.map((rec) =>
        format === 'none'
          ? { lsn: rec.lsn, ts: rec.ts, stream: rec.stream, module: rec.module, core: rec.core, body: null }
          : recordToJson(rec, format as BodyFormat),
      )
      return { records, ...(out.next ? { next: `${out.next.ts}:${out.next.lsn}` } : {}) }
    },
  }

  const handler = jsonApiHandler({
    prefix: kPrefix,
    routes,
    authorize: (req) => bearerReadAccess(req.headers.authorization, options.verify, 'read:<stream>'),
    mapError(err) {
      if (err instanceof MI_ERR_INDEX_QUERY_INVALID)
        return new HttpError(400, (err as Error).message, { code: 'MI_ERR_INDEX_QUERY_INVALID' })
      if ((err as { tooManyRaw?: boolean }).tooManyRaw)
        return new HttpError(
          400,
          `more than ${kMaxRawRows} raw points in one page: use a larger step or limit`,
        )
      return undefined
    },
  })
  return Object.assign(handler, {
    async close() {
      for (const r of readers.values()) r.close()
      if (log) await (await log).close()
    },
  })
}
