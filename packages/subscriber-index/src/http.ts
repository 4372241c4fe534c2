/**
 * The query API as an `HttpHandler` for the server's HTTP listener (the one serving /metrics):
 * it answers GET /index/v1/* and passes on everything else. See README "Query API".
 *
 * Every request needs `Authorization: Bearer <operator token>` with a `read:<stream pattern>` (or
 * `admin`) scope; results only ever hold streams those patterns match.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { resolve } from 'node:path'
import { type BodyFormat, kBodyFormats, type Reader, recordToJson } from '@module-ingest/log'
import { matchPattern } from '@module-ingest/protocol'
import { MI_ERR_INDEX_QUERY_INVALID } from './errors.ts'
import { fetchByLsn, oldestLogLsn, openReader } from './log-source.ts'
import { bad, Params } from './params.ts'
import { IndexReader, kMaxRawRows, type StreamFilter } from './query.ts'

export const kPrefix = '/index/v1/'
/** Page sizes: default and most per request. */
export const kLimits = {
  series: { dflt: 100, max: 1000 },
  records: { dflt: 100, max: 1000 },
  buckets: { dflt: 1000, max: 11_000 },
  maxSeries: 100,
} as const

/** What an operator token check returns (packages/auth `CredentialStore.verifyOperator`). */
export type VerifyToken = (
  token: string,
) => { ok: true; operator: { name: string; scopes: readonly string[] } } | { ok: false; reason: string }

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

class HttpError extends Error {
  status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = `${JSON.stringify(body)}\n`
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  })
  res.end(text)
}

/** The subscribers of a server config that are `index` instances, as `indexes` entries. */
export function indexesFromSubscribers(
  subscribers: ReadonlyArray<{ name: string; use: string; enabled?: boolean; options?: unknown }>,
): Array<{ name: string; path: string }> {
  return subscribers
    .filter((s) => s.use === 'index' || s.use === '@module-ingest/subscriber-index')
    .filter((s) => s.enabled !== false)
    .map((s) => ({
      name: s.name,
      path: resolve(String((s.options as { path?: unknown } | undefined)?.path ?? '')),
    }))
}

export function createIndexQueryHandler(options: IndexQueryOptions): IndexHttpHandler {
  const readers = new Map(options.indexes.map((i) => [i.name, new IndexReader(i.path)]))
  const now = options.now ?? (() => Date.now() * 1000)
  let log: Promise<Reader> | undefined
  const logReader = () => {
    log ??= openReader(options.logDir)
    return log
  }

  const authorize = (req: IncomingMessage): string[] => {
    const h = req.headers.authorization
    const m = typeof h === 'string' ? /^Bearer\s+(\S+)$/i.exec(h) : null
    if (!m) throw new HttpError(401, 'missing bearer token (Authorization: Bearer <operator token>)')
    const v = options.verify(m[1]!)
    if (!v.ok) throw new HttpError(401, `token rejected (${v.reason})`)
    const patterns: string[] = []
    for (const s of v.operator.scopes) {
      if (s === 'admin') patterns.push('*')
      else if (s.startsWith('read:')) patterns.push(s.slice(5))
    }
    if (patterns.length === 0)
      throw new HttpError(403, `operator ${v.operator.name} has no read:<stream> scope`)
    return patterns
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

  const routes: Record<string, (q: URLSearchParams, patterns: string[]) => Promise<unknown> | unknown> = {
    status(q) {
      const p = new Params(q, ['index'])
      const r = ready(pick(p))
      return { ...r.status(), logOldestLsn: oldestLogLsn(options.logDir) }
    },
    series(q, patterns) {
      const p = new Params(q, ['index', 'stream', 'module', 'field', 'limit', 'after'])
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
      return {
        series: out.series.map((s) => ({
          stream: s.stream,
          module: s.module,
          field: s.field,
          latest: { ts: s.ts, value: s.value, lsn: s.lsn },
        })),
        ...(out.after !== undefined ? { next: String(out.after) } : {}),
      }
    },
    latest(q, patterns) {
      const p = new Params(q, ['index', 'stream', 'module', 'field', 'limit', 'after'])
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
      return { latest: out.series, ...(out.after !== undefined ? { next: String(out.after) } : {}) }
    },
    range(q, patterns) {
      const p = new Params(q, ['index', 'stream', 'module', 'field', 'from', 'to', 'step', 'agg', 'limit'])
      const r = ready(pick(p))
      const t = now()
      const toUs = p.time('to', t, t)
      const fromUs = p.time('from', t)
      const stepUs = p.duration('step', 1_000_000)
      if (fromUs >= toUs) throw bad(`"from" (${fromUs}) must be before "to" (${toUs})`)
      const out = r.range({
        streams: streamFilter(p, patterns),
        module: p.string('module'),
        field: p.required('field'),
        fromUs,
        toUs,
        stepUs,
        agg: p.agg(),
        limit: p.int('limit', kLimits.buckets.dflt, 1, kLimits.buckets.max),
        maxSeries: kLimits.maxSeries,
      })
      if (out.tooManySeries !== undefined)
        throw bad(
          `${out.tooManySeries} series match (at most ${kLimits.maxSeries}): narrow with stream= or module=`,
        )
      if (out.noRawPoints)
        throw bad(
          `parameter "step": this index keeps no raw points (rawPoints: false), so step must be a multiple of 1s`,
        )
      return {
        source: out.source,
        fromUs: out.fromUs,
        toUs: out.toUs,
        stepUs,
        series: out.series,
        ...(out.nextFromUs !== undefined ? { next: String(out.nextFromUs) } : {}),
      }
    },
    async records(q, patterns) {
      const p = new Params(q, ['index', 'stream', 'module', 'from', 'to', 'limit', 'after', 'body'])
      const r = ready(pick(p))
      const t = now()
      const toUs = p.time('to', t, t)
      const fromUs = p.time('from', t)
      if (fromUs >= toUs) throw bad(`"from" (${fromUs}) must be before "to" (${toUs})`)
      const format = p.oneOf('body', [...kBodyFormats, 'none'] as const, 'auto')
      const afterText = p.string('after')
      let after: { ts: number; lsn: number } | undefined
      if (afterText !== undefined) {
        const m = /^(-?\d{1,17}):(\d{1,16})$/.exec(afterText)
        if (!m)
          throw bad(`parameter "after": expected the "next" value of the previous page, got "${afterText}"`)
        after = { ts: Number(m[1]), lsn: Number(m[2]) }
      }
      const out = r.records({
        streams: streamFilter(p, patterns),
        module: p.string('module'),
        fromUs,
        toUs,
        limit: p.int('limit', kLimits.records.dflt, 1, kLimits.records.max),
        minLsn: oldestLogLsn(options.logDir),
        ...(after ? { after } : {}),
      })
      const bodies =
        format === 'none'
          ? new Map()
          : await fetchByLsn(
              await logReader(),
              out.records.map((x) => x.lsn),
            )
      const records = out.records.map((row) => {
        const rec = bodies.get(row.lsn)
        // A record the log no longer has (retention ran since the index row was read): no body.
        return rec ? recordToJson(rec, format as BodyFormat) : { ...row, body: null }
      })
      return { records, ...(out.next ? { next: `${out.next.ts}:${out.next.lsn}` } : {}) }
    },
  }

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (!url.pathname.startsWith(kPrefix)) return false
    const route = url.pathname.slice(kPrefix.length)
    try {
      if (!Object.hasOwn(routes, route))
        throw new HttpError(404, `no endpoint ${url.pathname} (known: ${Object.keys(routes).join(', ')})`)
      if (req.method !== 'GET') throw new HttpError(405, 'only GET is supported')
      const patterns = authorize(req)
      send(res, 200, await routes[route]!(url.searchParams, patterns))
    } catch (err) {
      const e = err as Error & { tooManyRaw?: boolean }
      if (err instanceof HttpError) {
        const headers: Record<string, string> = {}
        if (err.status === 401) headers['www-authenticate'] = 'Bearer realm="module-ingest"'
        if (err.status === 405) headers.allow = 'GET'
        send(res, err.status, { error: { status: err.status, message: err.message } }, headers)
      } else if (err instanceof MI_ERR_INDEX_QUERY_INVALID) {
        send(res, 400, { error: { status: 400, code: 'MI_ERR_INDEX_QUERY_INVALID', message: e.message } })
      } else if (e.tooManyRaw) {
        send(res, 400, {
          error: {
            status: 400,
            message: `more than ${kMaxRawRows} raw points in one page: use a larger step or limit`,
          },
        })
      } else throw err
    }
    return true
  }
  return Object.assign(handler, {
    async close() {
      for (const r of readers.values()) r.close()
      if (log) await (await log).close()
    },
  })
}
