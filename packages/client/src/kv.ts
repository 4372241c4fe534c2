/**
 * The keyed-store SDK: `createKv({ client, module, api, token })` → `kv(namespace)` with
 * set / hset / lset / del / txn (writes: records on `kv.<namespace>` over this MIP/1 client, one
 * BATCH per transaction) and get / keys (reads: the server's HTTP read API). See docs/kv.md.
 *
 * With `api` and `token` given, a write waits for its outcome (read-your-writes: the next get sees
 * it) and rejects with MI_ERR_KV_REJECTED when the store rejected it (say a failed `rev`).
 */
import {
  encodeOp,
  type KvOp,
  type KvType,
  type KvValue,
  type ListAction,
  MI_ERR_KV_OP_INVALID,
  MI_ERR_KV_READ_FAILED,
  MI_ERR_KV_REJECTED,
  streamOf,
} from '@module-ingest/kv-protocol'
import type { Client } from './client.ts'
import { MI_ERR_CLIENT_OPT_INVALID } from './errors.ts'
import { KeepAliveGet } from './kv-http.ts'

export type { KvOp, KvType, KvValue, ListAction }

export interface KvOptions {
  /** The MIP/1 client writes go over. Without it the namespaces only read (writes throw). */
  client?: Client
  /** The module this client authenticated as (outcomes are found by module + seq). */
  module: string
  /** The server's HTTP listener, e.g. `http://127.0.0.1:9464`. Needed for reads and outcomes. */
  api?: string
  /** An operator token with `read:kv.<namespace>` scopes. */
  token?: string
  /** Bound on waiting for the store to apply a write. Default 5000 ms. */
  waitMs?: number
}

export interface WriteOptions {
  ttlMs?: number
  /** Expected revision: the key's current revision, or 0 for "must not exist". */
  rev?: number
  /** Wait for the store's outcome (default: true when `api` is set). */
  wait?: boolean
}

export interface WriteResult {
  /** The MIP/1 seq the write was ACKed under. */
  seq: bigint
  /** When the outcome was awaited: the lsn of the first operation (a single op's new revision). */
  lsn?: number
  lastLsn?: number
}

export interface KvEntry {
  key: string
  type: KvType
  /** bigint for int values. */
  value: KvValue['value']
  revision: number
  created: number
  expiresAt: number | null
}

/** A JS value → a typed value: bigint or integer number → int, boolean → bool, array → list, string → string, other → json. */
export function typed(value: unknown, type?: KvType): KvValue {
  if (type !== undefined) {
    if (type === 'int') return { type, value: BigInt(value as bigint | number | string) }
    return { type, value } as KvValue
  }
  if (typeof value === 'bigint') return { type: 'int', value }
  if (typeof value === 'number' && Number.isSafeInteger(value)) return { type: 'int', value: BigInt(value) }
  if (typeof value === 'boolean') return { type: 'bool', value }
  if (typeof value === 'string') return { type: 'string', value }
  if (Array.isArray(value)) return { type: 'list', value }
  if (value === undefined) throw new MI_ERR_KV_OP_INVALID('a value is required')
  return { type: 'json', value }
}

const opt = (o: WriteOptions | undefined) => ({
  ...(o?.ttlMs !== undefined ? { ttlMs: o.ttlMs } : {}),
  ...(o?.rev !== undefined ? { rev: o.rev } : {}),
})

/** Collects the operations of one transaction. */
export class KvTxn {
  readonly ops: Array<{ ns: string; op: KvOp }> = []
  #ns: string
  constructor(ns: string) {
    this.#ns = ns
  }
  set(key: string, value: unknown, o?: WriteOptions & { type?: KvType }): this {
    this.ops.push({ ns: this.#ns, op: { op: 'set', key, value: typed(value, o?.type), ...opt(o) } })
    return this
  }
  hset(
    key: string,
    fieldOrObject: string | Record<string, unknown>,
    value?: unknown,
    o?: WriteOptions,
  ): this {
    const op: KvOp =
      typeof fieldOrObject === 'string'
        ? { op: 'hset', key, field: fieldOrObject, value, ...opt(o) }
        : { op: 'hset', key, value: fieldOrObject, ...opt((value as WriteOptions | undefined) ?? o) }
    this.ops.push({ ns: this.#ns, op })
    return this
  }
  lset(key: string, action: ListAction, args: { index?: number; value?: unknown } & WriteOptions = {}): this {
    const { index, value, ...o } = args
    this.ops.push({
      ns: this.#ns,
      op: {
        op: 'lset',
        key,
        action,
        ...(index !== undefined ? { index } : {}),
        ...(value !== undefined ? { value } : {}),
        ...opt(o),
      },
    })
    return this
  }
  del(key: string, o?: Pick<WriteOptions, 'rev'>): this {
    this.ops.push({ ns: this.#ns, op: { op: 'del', key, ...opt(o) } })
    return this
  }
  /** Operations on another namespace in the same transaction. */
  in(ns: string): KvTxn {
    const t = new KvTxn(ns)
    Object.defineProperty(t, 'ops', { value: this.ops })
    return t
  }
}

export interface KvNamespace {
  set(key: string, value: unknown, o?: WriteOptions & { type?: KvType }): Promise<WriteResult>
  /** Merge a JSON object (RFC 7386), or set one field. */
  hset(key: string, object: Record<string, unknown>, o?: WriteOptions): Promise<WriteResult>
  hset(key: string, field: string, value: unknown, o?: WriteOptions): Promise<WriteResult>
  lset(
    key: string,
    action: ListAction,
    args?: { index?: number; value?: unknown } & WriteOptions,
  ): Promise<WriteResult>
  del(key: string, o?: Pick<WriteOptions, 'rev' | 'wait'>): Promise<WriteResult>
  /** All operations `build` adds, as one transaction (one BATCH): all applied or none. */
  txn(build: (t: KvTxn) => void, o?: Pick<WriteOptions, 'wait'>): Promise<WriteResult>
  get(key: string, o?: { minLsn?: number }): Promise<KvEntry | undefined>
  keys(o?: { prefix?: string; after?: string; limit?: number }): Promise<{
    keys: Array<{ key: string; type: KvType; revision: number; expiresAt: number | null }>
    next?: string
  }>
}

/**
 * A reply's JSON, with an exact bigint for the top-level `value` of an int entry (the server writes
 * exact digits). Only an int entry is parsed twice, the second time with a reviver for the digits.
 */
function parseEntry(text: string): Record<string, unknown> {
  const body = JSON.parse(text) as Record<string, unknown>
  if (body.type !== 'int' || typeof body.value !== 'number') return body
  const sources = new Map<object, string>()
  const exact = JSON.parse(text, function (this: object, key, v, ctx?: { source?: string }) {
    if (key === 'value' && typeof v === 'number' && ctx?.source) sources.set(this, ctx.source)
    return v
  }) as Record<string, unknown>
  if (sources.has(exact)) exact.value = BigInt(sources.get(exact)!)
  return exact
}

export function createKv(options: KvOptions): (namespace: string) => KvNamespace {
  const waitMs = options.waitMs ?? 5000
  /**
   * This client's last ACKed write (its seq), and once its outcome was awaited the store's lsn
   * through which it is applied: reads wait for it (read-your-writes). By lsn when known — the
   * server answers `minLsn` that is already applied on its fast path — else by (module, seq).
   */
  let last: { seq: bigint; lsn?: number } | undefined
  const reads = options.api && options.token ? new KeepAliveGet(options.api) : undefined
  const headers = { authorization: `Bearer ${options.token}` }

  const http = async (path: string, q: Record<string, string | number | undefined>) => {
    if (!reads)
      throw new MI_ERR_KV_READ_FAILED(
        0,
        'reads need the api URL and an operator token (createKv({ api, token }))',
      )
    let target = `/kv/v1/${path}`
    let sep = '?'
    for (const k in q) {
      const v = q[k]
      if (v === undefined) continue
      target += `${sep}${k}=${encodeURIComponent(v)}`
      sep = '&'
    }
    const res = await reads.get(target, headers)
    return {
      status: res.status,
      body: res.type?.includes('json') ? parseEntry(res.text) : { text: res.text },
    }
  }
  const failed = (r: { status: number; body: Record<string, unknown> }) =>
    new MI_ERR_KV_READ_FAILED(
      r.status,
      String((r.body.error as { message?: string } | undefined)?.message ?? r.body.text ?? ''),
    )

  const write = async (
    ops: Array<{ ns: string; op: KvOp }>,
    wait: boolean | undefined,
  ): Promise<WriteResult> => {
    if (ops.length === 0) throw new MI_ERR_KV_OP_INVALID('a transaction needs at least one operation')
    if (!options.client)
      throw new MI_ERR_CLIENT_OPT_INVALID('createKv({ client })', 'a MIP/1 client for writes')
    const records = ops.map(({ ns, op }) => ({ stream: streamOf(ns), body: encodeOp(op, ops.length) }))
    const seq =
      records.length === 1
        ? await options.client.send(records[0]!.stream, records[0]!.body)
        : await options.client.sendBatch(records)
    last = { seq }
    if (!(wait ?? Boolean(options.api && options.token))) return { seq }
    const r = await http('outcome', { module: options.module, seq: String(seq), waitMs })
    if (r.status !== 200) throw failed(r)
    const o = r.body as { ok: boolean; code?: string; message?: string; lsn: number; lastLsn: number }
    // Applied through lastLsn whatever the outcome: later reads need not wait longer than that.
    if (last?.seq === seq) last = { seq, lsn: o.lastLsn }
    if (!o.ok) throw Object.assign(new MI_ERR_KV_REJECTED(o.code ?? '?', o.message ?? ''), { outcome: o })
    return { seq, lsn: o.lsn, lastLsn: o.lastLsn }
  }

  /** The read-your-writes parameters of a read (none when there is nothing to wait for). */
  const waitFor = (minLsn: number | undefined): Record<string, string | number> =>
    minLsn !== undefined
      ? { minLsn, waitMs }
      : last?.lsn !== undefined
        ? { minLsn: last.lsn, waitMs }
        : last !== undefined
          ? { module: options.module, seq: String(last.seq), waitMs }
          : {}

  return (ns: string): KvNamespace => {
    streamOf(ns) // validates the namespace now
    const one = (build: (t: KvTxn) => void, wait?: boolean) => {
      const t = new KvTxn(ns)
      build(t)
      return write(t.ops, wait)
    }
    return {
      set: (key, value, o) => one((t) => t.set(key, value, o), o?.wait),
      hset: ((key: string, a: string | Record<string, unknown>, b?: unknown, c?: WriteOptions) =>
        one(
          (t) =>
            typeof a === 'string' ? t.hset(key, a, b, c) : t.hset(key, a, undefined, b as WriteOptions),
          typeof a === 'string' ? c?.wait : (b as WriteOptions | undefined)?.wait,
        )) as KvNamespace['hset'],
      lset: (key, action, args) => one((t) => t.lset(key, action, args), args?.wait),
      del: (key, o) => one((t) => t.del(key, o), o?.wait),
      txn: (build, o) => one(build, o?.wait),
      async get(key, o) {
        // Read-your-writes: wait for this client's last write unless an lsn is given.
        const r = await http('get', { ns, key, ...waitFor(o?.minLsn) })
        if (r.status === 404 && (r.body.error as { message?: string })?.message?.startsWith('no key'))
          return undefined
        if (r.status !== 200) throw failed(r)
        const b = r.body
        return {
          key: String(b.key),
          type: b.type as KvType,
          value: b.value as KvValue['value'],
          revision: Number(b.revision),
          created: Number(b.created),
          expiresAt: (b.expiresAt as number | null) ?? null,
        }
      },
      async keys(o) {
        const r = await http('keys', {
          ns,
          prefix: o?.prefix,
          after: o?.after,
          limit: o?.limit,
          ...waitFor(undefined),
        })
        if (r.status !== 200) throw failed(r)
        return r.body as Awaited<ReturnType<KvNamespace['keys']>>
      },
    }
  }
}
