import { MI_ERR_SUBSCRIBER_DUPLICATE, MI_ERR_SUBSCRIBER_OPT_INVALID } from './errors.ts'
import type { RateLimit } from './pace.ts'

/** How records are grouped into one `handle` call. A batch closes at whichever limit comes first. */
export interface BatchOptions {
  maxRecords: number
  maxBytes: number
  /** How long a partial batch waits for more records before it is delivered anyway. */
  maxWaitMs: number
}

/** Where a subscriber starts (overrides the group's committed offset) or stops. */
export interface LogPosition {
  lsn?: number
  /** Server receive time (`rts`), µs since epoch. */
  timeUs?: number
}

export interface SubscriberConfig {
  /** Instance name: the consumer group is `sub.<name>`, the dead-letter stream `dlq.<name>`. */
  name: string
  /** A short name the host registered (`plugins`), an npm package name, or a file path / file: URL. */
  use: string
  enabled?: boolean
  /** Stream globs; `*` matches any run of characters (dots included). Default `['*']`. */
  streams?: string[]
  /** Raw plugin options, validated by the plugin's configSchema. */
  options?: unknown
  batch?: Partial<BatchOptions>
  /** Batches in flight at once, each in its own worker thread. Default 1. */
  concurrency?: number
  /**
   * 'module' (default): with concurrency > 1, records are sharded by module so that each
   * module's records are handled in log order. 'none': batches go to any free lane, in any order.
   */
  ordering?: 'module' | 'none'
  /** Deliveries of one batch before it is dead-lettered. Default 5. */
  maxAttempts?: number
  /** Per-batch limit; past it the worker is destroyed and replaced. Default 30000. */
  timeoutMs?: number
  /** Worker heap limits (Node's `resourceLimits`), e.g. `{ maxOldGenerationSizeMb: 256 }`. */
  resourceLimits?: {
    maxOldGenerationSizeMb?: number
    maxYoungGenerationSizeMb?: number
    codeRangeSizeMb?: number
    stackSizeMb?: number
  }
  /** Retry backoff: `initialMs * 2^(attempt-1)`, capped at `maxMs`, with full jitter. */
  backoff?: { initialMs?: number; maxMs?: number }
  /**
   * While `failed` (the plugin threw a `*_FATAL` code): how often the held batch is delivered
   * again to test whether the condition was fixed. Default 60000.
   */
  failedRecheckMs?: number
  /**
   * Linux scheduling priority (nice, 0–19) of this subscriber's worker threads, set in each
   * before the plugin starts (nice.ts). Default: the plugin's own `nice` (bulk work such as
   * indexing or uploading declares one, so ingest and reads win a saturated core), else 0.
   */
  nice?: number
  /**
   * Catch-up rate limit (pace.ts): record body bytes per second this subscriber is delivered at
   * most, `burstBytes` at once after an idle spell (default: `batch.maxBytes`), only while records
   * are arriving (`when: 'ingesting'`, default) or `'always'`. Fields override the plugin's
   * declared default one by one; `bytesPerSec: 0` turns a declared limit off. Default: the
   * plugin's, else none.
   */
  rateLimit?: Partial<RateLimit>
  /** Consumer group name. Default `sub.<name>`. */
  group?: string
  /** Start here instead of at the group's committed offset. */
  from?: LogPosition
  /** Stop after this point (inclusive); the subscriber is then `finished`. */
  until?: LogPosition
}

export interface ResolvedSubscriberConfig {
  name: string
  use: string
  group: string
  streams: string[]
  options: unknown
  batch: BatchOptions
  concurrency: number
  ordering: 'module' | 'none'
  maxAttempts: number
  timeoutMs: number
  resourceLimits: NonNullable<SubscriberConfig['resourceLimits']> | undefined
  backoff: { initialMs: number; maxMs: number }
  failedRecheckMs: number
  /** undefined: the plugin's default. */
  nice: number | undefined
  /** The entry's fields as validated; `limit` is what applies after the plugin's (withPluginDefaults). */
  rateLimit: { entry: Partial<RateLimit>; limit: RateLimit | undefined }
  from: LogPosition | undefined
  until: LogPosition | undefined
}

export const DEFAULTS = {
  streams: ['*'],
  batch: { maxRecords: 1000, maxBytes: 1024 * 1024, maxWaitMs: 50 },
  concurrency: 1,
  maxAttempts: 5,
  timeoutMs: 30_000,
  backoff: { initialMs: 100, maxMs: 30_000 },
  failedRecheckMs: 60_000,
} as const

const kNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

function posInt(path: string, v: unknown, dflt: number, min = 1): number {
  if (v === undefined) return dflt
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new MI_ERR_SUBSCRIBER_OPT_INVALID(path, `must be an integer >= ${min}, got ${String(v)}`)
  }
  return v
}

function position(path: string, v: LogPosition | undefined): LogPosition | undefined {
  if (v === undefined) return undefined
  if (v === null || typeof v !== 'object') throw new MI_ERR_SUBSCRIBER_OPT_INVALID(path, 'must be an object')
  const out: LogPosition = {}
  if (v.lsn !== undefined) out.lsn = posInt(`${path}.lsn`, v.lsn, 1, 0)
  if (v.timeUs !== undefined) out.timeUs = posInt(`${path}.timeUs`, v.timeUs, 0, 0)
  return out
}

/** Validate one entry and fill defaults; `path` names it in errors (`subscribers[2]`). */
export function resolveSubscriberConfig(sub: SubscriberConfig, path: string): ResolvedSubscriberConfig {
  if (sub === null || typeof sub !== 'object')
    throw new MI_ERR_SUBSCRIBER_OPT_INVALID(path, 'must be an object')
  if (typeof sub.name !== 'string' || !kNamePattern.test(sub.name)) {
    throw new MI_ERR_SUBSCRIBER_OPT_INVALID(`${path}.name`, 'must match /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/')
  }
  if (typeof sub.use !== 'string' || sub.use === '') {
    throw new MI_ERR_SUBSCRIBER_OPT_INVALID(`${path}.use`, 'must be a non-empty string')
  }
  const streams = sub.streams ?? [...DEFAULTS.streams]
  if (
    !Array.isArray(streams) ||
    streams.length === 0 ||
    streams.some((s) => typeof s !== 'string' || s === '')
  ) {
    throw new MI_ERR_SUBSCRIBER_OPT_INVALID(`${path}.streams`, 'must be a non-empty array of non-empty globs')
  }
  const ordering = sub.ordering ?? 'module'
  if (ordering !== 'module' && ordering !== 'none') {
    throw new MI_ERR_SUBSCRIBER_OPT_INVALID(`${path}.ordering`, "must be 'module' or 'none'")
  }
  if (
    sub.resourceLimits !== undefined &&
    (sub.resourceLimits === null || typeof sub.resourceLimits !== 'object')
  ) {
    throw new MI_ERR_SUBSCRIBER_OPT_INVALID(`${path}.resourceLimits`, 'must be an object')
  }
  if (sub.nice !== undefined && (!Number.isInteger(sub.nice) || sub.nice < 0 || sub.nice > 19)) {
    // Not below 0: a higher priority than ingest's needs privilege and would let bulk work win.
    throw new MI_ERR_SUBSCRIBER_OPT_INVALID(
      `${path}.nice`,
      `must be an integer from 0 to 19, got ${String(sub.nice)}`,
    )
  }
  const b = sub.batch ?? {}
  const bo = sub.backoff ?? {}
  const rateLimit = rateLimitFields(`${path}.rateLimit`, sub.rateLimit)
  return {
    name: sub.name,
    use: sub.use,
    group: sub.group ?? `sub.${sub.name}`,
    streams,
    options: sub.options,
    batch: {
      maxRecords: posInt(`${path}.batch.maxRecords`, b.maxRecords, DEFAULTS.batch.maxRecords),
      maxBytes: posInt(`${path}.batch.maxBytes`, b.maxBytes, DEFAULTS.batch.maxBytes),
      maxWaitMs: posInt(`${path}.batch.maxWaitMs`, b.maxWaitMs, DEFAULTS.batch.maxWaitMs, 0),
    },
    concurrency: posInt(`${path}.concurrency`, sub.concurrency, DEFAULTS.concurrency),
    ordering,
    maxAttempts: posInt(`${path}.maxAttempts`, sub.maxAttempts, DEFAULTS.maxAttempts),
    timeoutMs: posInt(`${path}.timeoutMs`, sub.timeoutMs, DEFAULTS.timeoutMs),
    resourceLimits: sub.resourceLimits,
    backoff: {
      initialMs: posInt(`${path}.backoff.initialMs`, bo.initialMs, DEFAULTS.backoff.initialMs, 0),
      maxMs: posInt(`${path}.backoff.maxMs`, bo.maxMs, DEFAULTS.backoff.maxMs, 0),
    },
    failedRecheckMs: posInt(`${path}.failedRecheckMs`, sub.failedRecheckMs, DEFAULTS.failedRecheckMs),
    nice: sub.nice,
    rateLimit: { entry: rateLimit, limit: undefined },
    from: position(`${path}.from`, sub.from),
    until: position(`${path}.until`, sub.until),
  }
}

/** Validate a rate limit's fields (an entry's, or a plugin's declared default). */
export function rateLimitFields(path: string, v: unknown): Partial<RateLimit> {
  if (v === undefined) return {}
  if (v === null || typeof v !== 'object') throw new MI_ERR_SUBSCRIBER_OPT_INVALID(path, 'must be an object')
  const r = v as Record<string, unknown>
  for (const key of Object.keys(r)) {
    if (key !== 'bytesPerSec' && key !== 'burstBytes' && key !== 'when')
      throw new MI_ERR_SUBSCRIBER_OPT_INVALID(
        `${path}.${key}`,
        'unknown (known: bytesPerSec, burstBytes, when)',
      )
  }
  const out: Partial<RateLimit> = {}
  if (r.bytesPerSec !== undefined) out.bytesPerSec = posInt(`${path}.bytesPerSec`, r.bytesPerSec, 0, 0)
  if (r.burstBytes !== undefined) out.burstBytes = posInt(`${path}.burstBytes`, r.burstBytes, 1)
  if (r.when !== undefined) {
    if (r.when !== 'ingesting' && r.when !== 'always')
      throw new MI_ERR_SUBSCRIBER_OPT_INVALID(`${path}.when`, "must be 'ingesting' or 'always'")
    out.when = r.when
  }
  return out
}

/**
 * The rate limit that applies: the entry's fields, then the plugin's declared ones (`plugin`,
 * defineSubscriber({ rateLimit })), then the defaults (burst: one full batch; when: ingesting).
 * None when neither sets `bytesPerSec` or it is 0. Call after withPluginBatch (the burst default
 * is the final batch.maxBytes).
 */
export function withPluginRateLimit(
  cfg: ResolvedSubscriberConfig,
  plugin: Partial<RateLimit> | undefined,
): ResolvedSubscriberConfig {
  const e = cfg.rateLimit.entry
  const p = plugin ?? {}
  const bytesPerSec = e.bytesPerSec ?? p.bytesPerSec ?? 0
  const limit: RateLimit | undefined =
    bytesPerSec > 0
      ? {
          bytesPerSec,
          burstBytes: e.burstBytes ?? p.burstBytes ?? cfg.batch.maxBytes,
          when: e.when ?? p.when ?? 'ingesting',
        }
      : undefined
  return { ...cfg, rateLimit: { entry: e, limit } }
}

/**
 * The batch limits a plugin declares (`defineSubscriber({ batch })`) fill what its entry left
 * unset; the entry's own fields and then the runtime's defaults come before and after them.
 */
export function withPluginBatch(
  cfg: ResolvedSubscriberConfig,
  entry: Partial<BatchOptions> | undefined,
  plugin: Partial<BatchOptions> | undefined,
): ResolvedSubscriberConfig {
  if (plugin === undefined) return cfg
  const e = entry ?? {}
  return {
    ...cfg,
    batch: {
      maxRecords: e.maxRecords ?? plugin.maxRecords ?? cfg.batch.maxRecords,
      maxBytes: e.maxBytes ?? plugin.maxBytes ?? cfg.batch.maxBytes,
      maxWaitMs: e.maxWaitMs ?? plugin.maxWaitMs ?? cfg.batch.maxWaitMs,
    },
  }
}

/** Resolve the enabled entries; names must be unique among all entries. */
export function resolveSubscriberConfigs(subs: SubscriberConfig[]): ResolvedSubscriberConfig[] {
  if (!Array.isArray(subs)) throw new MI_ERR_SUBSCRIBER_OPT_INVALID('subscribers', 'must be an array')
  const seen = new Set<string>()
  const out: ResolvedSubscriberConfig[] = []
  subs.forEach((sub, i) => {
    const resolved = resolveSubscriberConfig(sub, `subscribers[${i}]`)
    if (seen.has(resolved.name)) throw new MI_ERR_SUBSCRIBER_DUPLICATE(resolved.name)
    seen.add(resolved.name)
    if (sub.enabled !== false) out.push(resolved)
  })
  return out
}
