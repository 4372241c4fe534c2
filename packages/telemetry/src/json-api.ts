/**
 * The shell of a read-only JSON API on the HTTP listener (`startMetricsServer`'s `handlers`), shared
 * by the kv and index query APIs: routes under a prefix, GET only, an authorization step, strict
 * query-string parsing, and errors as `{ error: { status, message, … } }` with the right status.
 *
 * Its own entry point (`@module-ingest/telemetry/json-api`) importing only node:http types, so a
 * plugin package serving an API does not load pino or hdr-histogram into its workers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

/** An error that becomes an HTTP reply; `extra` is merged into the body's `error` object. */
export class HttpError extends Error {
  readonly status: number
  readonly extra: Record<string, unknown>
  constructor(status: number, message: string, extra: Record<string, unknown> = {}) {
    super(message)
    this.status = status
    this.extra = extra
  }
}

/**
 * A reply already encoded as JSON (one value, no newline), in parts written as one buffer: a route
 * returns it when it writes its JSON cheaper than `JSON.stringify` of an object graph (the index's
 * 3,600-bucket ranges).
 */
export class JsonText {
  readonly parts: ReadonlyArray<string | Uint8Array>
  constructor(parts: ReadonlyArray<string | Uint8Array>) {
    this.parts = parts
  }
}

const kNewline = Buffer.from('\n')

/** One JSON line, never cached. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text =
    body instanceof JsonText
      ? Buffer.concat([...body.parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)), kNewline])
      : `${JSON.stringify(body)}\n`
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  })
  res.end(text)
}

/**
 * A query string checked up front: a parameter the endpoint does not take, or one given twice, is
 * an error (a typo must not silently widen a query). Every bad value gets a message naming the
 * parameter; `bad` makes the error (default: HttpError 400).
 */
export class QueryParams {
  readonly #q: URLSearchParams
  protected readonly bad: (message: string) => Error
  constructor(
    q: URLSearchParams,
    known: readonly string[],
    bad: (message: string) => Error = (m) => new HttpError(400, m),
  ) {
    this.#q = q
    this.bad = bad
    for (const key of new Set(q.keys())) {
      if (!known.includes(key))
        throw bad(`unknown parameter "${key}" (this endpoint takes: ${known.join(', ')})`)
      if (q.getAll(key).length > 1) throw bad(`parameter "${key}" given more than once`)
    }
  }

  string(name: string): string | undefined {
    const v = this.#q.get(name)
    if (v === null) return undefined
    if (v === '') throw this.bad(`parameter "${name}" is empty`)
    return v
  }

  required(name: string): string {
    const v = this.string(name)
    if (v === undefined) throw this.bad(`parameter "${name}" is required`)
    return v
  }

  /** A decimal integer in min..max; absent gives `dflt`. */
  int(name: string, dflt: number, min: number, max: number): number
  int(name: string, dflt: number | undefined, min: number, max: number): number | undefined
  int(name: string, dflt: number | undefined, min: number, max: number): number | undefined {
    const v = this.string(name)
    if (v === undefined) return dflt
    if (!/^\d{1,16}$/.test(v) || Number(v) < min || Number(v) > max)
      throw this.bad(`parameter "${name}": expected an integer from ${min} to ${max}, got "${v}"`)
    return Number(v)
  }
}

/** What a route gets: the query string and the caller's read patterns (from `authorize`). */
export type JsonRoute = (q: URLSearchParams, patterns: string[]) => unknown

export interface JsonApiOptions {
  /** e.g. `/kv/v1/`; requests outside it are passed on (the handler returns false). */
  prefix: string
  routes: Record<string, JsonRoute>
  /** Who is asking: their read patterns, or the status and message to refuse with. */
  authorize(
    req: IncomingMessage,
  ): { ok: true; patterns: string[] } | { ok: false; status: number; message: string }
  /** The 405 message (say where writes go, if anywhere). Default: 'only GET is supported'. */
  getOnly?: string
  /** Errors other than HttpError that are the caller's fault: map them to one, or undefined to rethrow. */
  mapError?: (err: unknown) => HttpError | undefined
}

/** (req, res) → true when answered; the listener's `HttpHandler` shape. */
export function jsonApiHandler(options: JsonApiOptions) {
  const { prefix, routes } = options
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (!url.pathname.startsWith(prefix)) return false
    const route = url.pathname.slice(prefix.length)
    try {
      if (!Object.hasOwn(routes, route))
        throw new HttpError(404, `no endpoint ${url.pathname} (known: ${Object.keys(routes).join(', ')})`)
      if (req.method !== 'GET') throw new HttpError(405, options.getOnly ?? 'only GET is supported')
      const access = options.authorize(req)
      if (!access.ok) throw new HttpError(access.status, access.message)
      sendJson(res, 200, await routes[route]!(url.searchParams, access.patterns))
    } catch (caught) {
      const err = caught instanceof HttpError ? caught : options.mapError?.(caught)
      if (!err) throw caught
      const headers: Record<string, string> = {}
      if (err.status === 401) headers['www-authenticate'] = 'Bearer realm="module-ingest"'
      if (err.status === 405) headers.allow = 'GET'
      sendJson(
        res,
        err.status,
        { error: { status: err.status, message: err.message, ...err.extra } },
        headers,
      )
    }
    return true
  }
}
