/**
 * The read API as an `HttpHandler` for the server's HTTP listener (the one serving /metrics): it
 * answers GET /kv/v1/* and passes on everything else. See docs/kv.md "Reads".
 *
 * Every request needs `Authorization: Bearer <operator token>` whose scopes include
 * `read:kv.<namespace>` (a glob, e.g. `read:kv.*`) or `admin`.
 *
 * Read-your-writes: `minLsn=<lsn>` (or `module=<m>&seq=<s>`, the ACKed seq of a write) waits until
 * the store has applied that far, at most `waitMs` (default 5000, at most 30000), else 504.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { bearerReadAccess, type VerifyOperator } from '@module-ingest/auth/bearer'
import { isNamespace, type KvType } from '@module-ingest/kv-protocol'
import { matchPattern } from '@module-ingest/protocol'
import { HttpError, type JsonRoute, jsonApiHandler, QueryParams } from '@module-ingest/telemetry/json-api'
import { MI_ERR_KV_NOT_APPLIED } from './errors.ts'
import { KvReader, type Outcome, type StoredKey } from './read.ts'

export const kPrefix = '/kv/v1/'
export const kLimits = {
  keys: { dflt: 100, max: 1000 },
  history: { dflt: 10, max: 1000 },
  waitMs: { dflt: 5000, max: 30_000 },
} as const

/** What an operator token check returns (packages/auth `CredentialStore.verifyOperator`). */
export type VerifyToken = VerifyOperator

export interface KvReadOptions {
  /** The kv instances: subscriber name → its store file. */
  stores: Array<{ name: string; path: string }>
  verify: VerifyToken
  /** Wall clock for TTL visibility, ms. For tests. */
  now?: () => number
  /** How often a read-your-writes wait re-checks the store. Default 5 ms. */
  pollMs?: number
}

export type KvHttpHandler = ((req: IncomingMessage, res: ServerResponse) => Promise<boolean>) & {
  /** The plain get of an existing key as a reply body, or undefined (see listenHttp's `fastGet`). */
  fastGet(url: string, authorization: string | undefined): string | undefined
  close(): Promise<void>
}

const bad = (message: string) => new HttpError(400, message)
/** The read-your-writes parameters every read takes (see `waitFor`). */
const kWaitParams = ['minLsn', 'module', 'seq', 'waitMs'] as const

/** A typed value as JSON: an int is written as its exact decimal digits (a JSON number). */
export function valueToJson(type: KvType | null, value: unknown): unknown {
  return type === 'int' ? kRawJson(String(value)) : value
}
// Node 24 has JSON.rawJSON (TC39 "JSON.parse source text access"); TypeScript's lib does not yet.
const kRawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON

const kGetPath = `${kPrefix}get?`

/** The reply to a get, as `sendJson` would write the generic route's object. */
function getLine(ns: string, key: string, e: StoredKey): string {
  // json/list re-serialized as the generic route does (one line, normalized); an int's digits are
  // its JSON; a bool's text is its JSON.
  const value =
    e.type === 'json' || e.type === 'list'
      ? JSON.stringify(JSON.parse(e.text))
      : e.type === 'string'
        ? JSON.stringify(e.text)
        : e.text
  return `{"ns":${JSON.stringify(ns)},"key":${JSON.stringify(key)},"type":"${e.type}","value":${value},"revision":${e.revision},"created":${e.created},"expiresAt":${e.expiresAt},"appliedLsn":${e.appliedLsn}}\n`
}

export function createKvReadHandler(options: KvReadOptions): KvHttpHandler {
  const readers = new Map(options.stores.map((s) => [s.name, new KvReader(s.path)]))
  const now = options.now ?? Date.now
  const pollMs = options.pollMs ?? 5

  const mayRead = (patterns: string[], ns: string) => patterns.some((p) => matchPattern(p, `kv.${ns}`))
  const namespace = (p: QueryParams, patterns: string[]) => {
    const ns = p.required('ns')
    if (!isNamespace(ns)) throw bad(`parameter "ns": "${ns}" is not a namespace ([A-Za-z0-9._-])`)
    if (!mayRead(patterns, ns)) throw new HttpError(403, `no read scope covers kv.${ns}`)
    return ns
  }
  const pick = (p: QueryParams): KvReader => {
    const name = p.string('store')
    if (name === undefined) {
      if (readers.size === 1) return [...readers.values()][0]!
      if (readers.size === 0) throw new HttpError(404, 'this server runs no kv subscriber')
      throw bad(
        `parameter "store" is required: this server has ${readers.size} kv stores (${[...readers.keys()].join(', ')})`,
      )
    }
    const r = readers.get(name)
    if (!r) throw new HttpError(404, `no kv store named "${name}" (known: ${[...readers.keys()].join(', ')})`)
    return r
  }

  /** Wait (bounded) until the store has applied `minLsn`, or the write (module, seq) has an outcome. */
  const waitFor = async (r: KvReader, p: QueryParams): Promise<Outcome | undefined> => {
    const minLsn = p.int('minLsn', undefined, 0, Number.MAX_SAFE_INTEGER)
    const module = p.string('module')
    const seq = p.string('seq')
    if ((module === undefined) !== (seq === undefined)) throw bad('"module" and "seq" go together')
    if (seq !== undefined && !/^\d{1,20}$/.test(seq))
      throw bad(`parameter "seq": expected an integer, got "${seq}"`)
    const waitMs = p.int('waitMs', kLimits.waitMs.dflt, 0, kLimits.waitMs.max)!
    if (minLsn === undefined && module === undefined) return undefined
    const deadline = Date.now() + waitMs
    for (;;) {
      if (module !== undefined) {
        const outcome = r.outcome({ module, seq: seq! })
        if (outcome) return outcome
      } else if (r.appliedLsn() >= minLsn!) return undefined
      if (Date.now() >= deadline)
        throw new HttpError(
          504,
          `the store has not applied ${module !== undefined ? `${module}:${seq}` : `lsn ${minLsn}`} within ${waitMs} ms`,
          {
            code: MI_ERR_KV_NOT_APPLIED.code,
            appliedLsn: r.appliedLsn(),
          },
        )
      await sleep(pollMs)
    }
  }

  const routes: Record<string, JsonRoute> = {
    async status(q) {
      const p = new QueryParams(q, ['store'])
      const r = pick(p)
      return { ready: r.ready, appliedLsn: r.appliedLsn() }
    },
    async get(q, patterns) {
      const p = new QueryParams(q, ['store', 'ns', 'key', ...kWaitParams])
      const r = pick(p)
      const ns = namespace(p, patterns)
      const key = p.required('key')
      const write = await waitFor(r, p)
      const e = r.get(ns, key, now())
      const appliedLsn = r.appliedLsn()
      if (!e)
        throw new HttpError(404, `no key "${key}" in namespace ${ns}`, {
          appliedLsn,
          ...(write ? { write } : {}),
        })
      // The same body as getLine's (the fast path), plus the write's outcome when waited for.
      return { ...e, value: valueToJson(e.type, e.value), appliedLsn, ...(write ? { write } : {}) }
    },
    async keys(q, patterns) {
      const p = new QueryParams(q, ['store', 'ns', 'prefix', 'after', 'limit', ...kWaitParams])
      const r = pick(p)
      const ns = namespace(p, patterns)
      await waitFor(r, p)
      const prefix = p.string('prefix')
      const after = p.string('after')
      const out = r.keys(
        ns,
        {
          limit: p.int('limit', kLimits.keys.dflt, 1, kLimits.keys.max)!,
          ...(prefix !== undefined ? { prefix } : {}),
          ...(after !== undefined ? { after } : {}),
        },
        now(),
      )
      return { ...out, appliedLsn: r.appliedLsn() }
    },
    async history(q, patterns) {
      const p = new QueryParams(q, ['store', 'ns', 'key', 'limit', 'before', ...kWaitParams])
      const r = pick(p)
      const ns = namespace(p, patterns)
      const key = p.required('key')
      await waitFor(r, p)
      const before = p.int('before', undefined, 1, Number.MAX_SAFE_INTEGER)
      const h = r.history(ns, key, {
        limit: p.int('limit', kLimits.history.dflt, 1, kLimits.history.max)!,
        ...(before !== undefined ? { before } : {}),
      })
      return { ns, key, history: h.map((e) => ({ ...e, value: valueToJson(e.type, e.value) })) }
    },
    async outcome(q, patterns) {
      const p = new QueryParams(q, ['store', 'lsn', 'module', 'seq', 'waitMs'])
      const r = pick(p)
      const lsn = p.int('lsn', undefined, 1, Number.MAX_SAFE_INTEGER)
      let o: Outcome | undefined
      if (lsn !== undefined) {
        if (p.string('module') !== undefined) throw bad('give "lsn" or "module" and "seq", not both')
        q.set('minLsn', String(lsn))
        await waitFor(r, new QueryParams(q, ['store', 'lsn', 'minLsn', 'waitMs']))
        o = r.outcome({ lsn })
      } else {
        if (p.string('module') === undefined) throw bad('parameter "lsn" (or "module" and "seq") is required')
        o = await waitFor(r, p)
      }
      if (!o) throw new HttpError(404, `lsn ${lsn} is not a kv write (or its outcome was pruned)`)
      if (!mayRead(patterns, o.ns)) throw new HttpError(403, `no read scope covers kv.${o.ns}`)
      return o
    },
  }

  const generic = jsonApiHandler({
    prefix: kPrefix,
    routes,
    authorize: (req) => bearerReadAccess(req.headers.authorization, options.verify),
    getOnly: 'only GET is supported (writes go over MIP/1)',
  })
  const only = readers.size === 1 ? [...readers.values()][0]! : undefined
  /**
   * The common read, `GET /kv/v1/get?ns=…&key=…` of a key that exists, answered before the generic
   * routing: no URL object, no QueryParams, one SQLite statement (key and applied lsn together),
   * the reply built from the stored text. A read-your-writes `minLsn` (with or without `waitMs`)
   * the store has already applied is answered here too (the SDK reads with the lsn its last write
   * was applied through): the generic route would not wait, and its reply is the same. Anything
   * else — another parameter, an lsn not applied yet, several stores, a missing key, a refused
   * token — returns undefined and takes the generic route, which waits or explains it.
   * The reads thread's listener calls it before node:http (`fastGet`, telemetry fast-lane.ts).
   */
  const fastGet = (url: string, authorization: string | undefined): string | undefined => {
    if (only === undefined || !url.startsWith(kGetPath)) return undefined
    const q = new URLSearchParams(url.slice(kGetPath.length))
    const ns = q.get('ns')
    const key = q.get('key')
    const minLsn = q.get('minLsn')
    const waitMs = q.get('waitMs')
    const size = 2 + (minLsn === null ? 0 : 1) + (waitMs === null ? 0 : 1)
    if (q.size !== size || !ns || !key || !isNamespace(ns)) return undefined
    // Only values the generic route accepts as they are (else it answers 400).
    if (minLsn !== null && !(/^\d{1,16}$/.test(minLsn) && Number(minLsn) <= Number.MAX_SAFE_INTEGER))
      return undefined
    if (waitMs !== null && !(/^\d{1,16}$/.test(waitMs) && Number(waitMs) <= kLimits.waitMs.max))
      return undefined
    const access = bearerReadAccess(authorization, options.verify)
    if (!access.ok || !mayRead(access.patterns, ns)) return undefined
    const e = only.getStored(ns, key, now())
    if (!e || (minLsn !== null && e.appliedLsn < Number(minLsn))) return undefined
    return getLine(ns, key, e)
  }
  const fastRoute = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== 'GET' || req.url === undefined) return false
    const line = fastGet(req.url, req.headers.authorization)
    if (line === undefined) return false
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(line),
      'cache-control': 'no-store',
    })
    res.end(line)
    return true
  }
  const handler = async (req: IncomingMessage, res: ServerResponse) =>
    fastRoute(req, res) || generic(req, res)
  return Object.assign(handler, {
    fastGet,
    async close() {
      for (const r of readers.values()) r.close()
    },
  })
}
