import type { StandardSchemaV1 } from '@standard-schema/spec'
import type { kSubscriber } from './symbols.ts'

/**
 * One committed record as a subscriber sees it: the log's `StoredRecord`, already decoded.
 *
 * `body` may be a view into a buffer shared by the whole batch (the runtime moves one
 * ArrayBuffer per batch into the worker). Copy it (`body.slice()`) if you keep it past `handle`.
 */
export interface SubscriberRecord {
  /** Position in the log: dense, starts at 1, increasing within a batch. */
  lsn: number
  stream: string
  module: string
  /** '' when the producer named none. */
  core: string
  /** The producer frame's seq; all records of one producer BATCH share it. */
  seq: bigint
  /**
   * Producer timestamp, µs since epoch: any u64 the producer sent. A number up to 2^53-1 (every
   * real clock until the year 2255), a bigint above it, so it is always exact; `Number(r.ts)` when
   * an approximate value will do.
   */
  ts: number | bigint
  /** Server receive time, µs since epoch. */
  rts: number
  body: Uint8Array
}

/** A record a subscriber asks the host to append to the log (e.g. an AI score). */
export interface EmittedRecord {
  stream: string
  body: Uint8Array
}

/**
 * pino's call signatures, the subset a subscriber may rely on:
 * `log.info('msg')`, `log.info('%s done', x)`, `log.info({ lsn }, 'msg')`.
 */
export interface LogFn {
  (msg: string, ...args: unknown[]): void
  (obj: object, msg?: string, ...args: unknown[]): void
}

export interface Logger {
  trace: LogFn
  debug: LogFn
  info: LogFn
  warn: LogFn
  error: LogFn
  fatal: LogFn
  /** A logger whose lines carry `bindings` too. */
  child(bindings: Record<string, unknown>): Logger
}

export interface Counter {
  inc(n?: number): void
}
export interface Histogram {
  record(value: number): void
}
export interface Gauge {
  set(value: number): void
}

/**
 * Metric names are local to the subscriber: the host prefixes and labels them with the
 * subscriber's name. Follow `<name>_<unit>[_total]`, e.g. `scored_records_total`.
 */
export interface SubscriberMetrics {
  counter(name: string): Counter
  histogram(name: string): Histogram
  gauge(name: string): Gauge
}

export interface SubscriberContext<C = unknown> {
  /** The instance name from the server config (`subscribers[].name`), not the package name. */
  readonly name: string
  /** The validated config: the output of `configSchema` (or the raw options when there is none). */
  readonly config: C
  readonly logger: Logger
  readonly metrics: SubscriberMetrics
  /** Aborted when the host shuts the subscriber down or gives up on the current batch. */
  readonly signal: AbortSignal
  /**
   * Queue a derived record for the log. Only valid while `handle` runs. The host appends the
   * queued records after `handle` resolves; if `handle` throws (or times out) they are discarded
   * with the batch, and the retry emits again. Strings are encoded as UTF-8.
   */
  emit(stream: string, body: Uint8Array | string): void
  /** 1 on the first delivery of a batch, 2+ on redeliveries of the same records. */
  readonly attempt: number
}

export type MaybePromise<T> = T | Promise<T>

/**
 * Application hooks (once per subscriber instance) and the per-batch error hook.
 * They run in the worker, with the same context as `handle`.
 */
export interface SubscriberHooks<C = unknown> {
  /** After `init` resolved, before the first batch. */
  onReady?(ctx: SubscriberContext<C>): MaybePromise<void>
  /** After `close` resolved. */
  onClose?(ctx: SubscriberContext<C>): MaybePromise<void>
  /**
   * After `handle` rejected, before the host decides to retry or dead-letter the batch.
   * For logging and cleanup: it cannot change that decision, and an error it throws is logged.
   */
  onError?(error: unknown, batch: readonly SubscriberRecord[], ctx: SubscriberContext<C>): MaybePromise<void>
}

export interface SubscriberDefinition<C = unknown> {
  /** Package-style name, e.g. 'anomaly-score'. Used in logs and errors. */
  name: string
  /** The plugin's own version (its package.json version). */
  version?: string
  /** Any Standard Schema (zod ≥3.24, valibot ≥1, arktype ≥2 …) whose output is the config. */
  configSchema?: StandardSchemaV1<unknown, C>
  /**
   * Default scheduling priority (Linux nice, 0–19) of the worker threads running this plugin; a
   * config entry's `nice` overrides it. Bulk work (indexing, uploading, batch inference) sets one
   * so that on a saturated host ingest and reads get the CPU first and this plugin the rest.
   */
  nice?: number
  /**
   * Default batch limits for this plugin; a config entry's `batch` overrides them field by field.
   * A plugin whose cost is per delivery (a transaction and its commit, an object) declares larger
   * batches here rather than asking every operator to.
   */
  batch?: { maxRecords?: number; maxBytes?: number; maxWaitMs?: number }
  /**
   * Default catch-up rate limit: record body bytes per second delivered at most (`burstBytes` at
   * once after an idle spell, default one full batch), only while records are arriving
   * (`when: 'ingesting'`, default) or `'always'`. A config entry's `rateLimit` overrides it field
   * by field (`bytesPerSec: 0` turns it off). For bulk work whose catch-up would otherwise take
   * the cores from ingest on a small host.
   */
  rateLimit?: { bytesPerSec?: number; burstBytes?: number; when?: 'ingesting' | 'always' }
  init?(ctx: SubscriberContext<C>): MaybePromise<void>
  /**
   * Process one batch, in log order. Resolve only when the work is done (durably, if it
   * matters): resolving commits the batch's offset. Throw to have it redelivered.
   */
  handle(batch: SubscriberRecord[], ctx: SubscriberContext<C>): MaybePromise<void>
  close?(ctx: SubscriberContext<C>): MaybePromise<void>
  hooks?: SubscriberHooks<C>
}

/** What `defineSubscriber` stamps under `Symbol.for('module-ingest.subscriber')`. */
export interface SubscriberMeta {
  name: string
  version: string | undefined
  /** The SDK version that defined it. */
  sdkVersion: string
  /** Semver range of host (server) versions this SDK's contract works with. */
  host: string
}

/** The frozen object `defineSubscriber` returns; a plugin module's default export. */
export type Subscriber<C = unknown> = Readonly<SubscriberDefinition<C>> & {
  readonly [kSubscriber]: SubscriberMeta
}

/** The config type of a subscriber. */
export type SubscriberConfig<S> = S extends Subscriber<infer C> ? C : never
