import type { PackedRecords } from '@module-ingest/log/packed'

/** The runtime's public types: what hosts pass in (emit, metrics, durable signal) and read back (stats). */

/** The host appends derived records and dead letters to the log. */
export type HostEmit = (records: { stream: string; body: Uint8Array; module?: string }[]) => Promise<void>

/**
 * Optional: the host appends one batch's derived records as they come from the worker, packed in
 * the log's record format (`@module-ingest/log/packed`; the server hands them to its writer as one
 * encoded append). Without it they reach `HostEmit` as objects.
 */
export type HostEmitPacked = (records: PackedRecords) => Promise<void>

/** Optional callbacks: the engine maps them onto its registry. Keep this the only coupling. */
export interface RuntimeMetrics {
  batchDelivered?(subscriber: string, records: number, durationMs: number): void
  batchRetried?(subscriber: string, code: string): void
  batchDeadLettered?(subscriber: string, records: number, code: string): void
  workerRestarted?(subscriber: string, code: string): void
  /** A `*_FATAL` failure: entering `failed`, or a re-check that failed again. */
  subscriberFailed?(subscriber: string, code: string): void
  offsetCommitted?(subscriber: string, nextLsn: number): void
  pluginMetric?(
    subscriber: string,
    kind: 'counter' | 'histogram' | 'gauge',
    name: string,
    values: number[],
  ): void
  /** How late the runtime's thread ran a timer, µs (startSubscribersThread only: the event-loop delay). */
  loopDelay?(us: number): void
}

/** Subscribe to durable-watermark moves (e.g. from log.onDurable); returns an unsubscribe. */
export type DurableSignal = (listener: (durableLsn: number) => void) => () => void

/** Every state a subscriber can be in (hosts export it as an enum metric). */
export const SUBSCRIBER_STATES = ['running', 'paused', 'failed', 'finished', 'closing', 'closed'] as const
export type SubscriberState = (typeof SUBSCRIBER_STATES)[number]

/** Why a subscriber is `failed`: the plugin's `*_FATAL` error, and when it is tried again. */
export interface SubscriberFailure {
  code: string
  message: string
  sinceMs: number
  /** Re-checks that failed again since the subscriber went failed. */
  rechecks: number
  nextRecheckAtMs: number
}

export interface SubscriberStats {
  name: string
  group: string
  state: SubscriberState
  /** Committed offset: the next LSN a restart would deliver from. */
  nextLsn: number
  /** Contiguous done point, ahead of `nextLsn` until the next commit. */
  ackedLsn: number
  /** One past the highest LSN read from the log. */
  scannedLsn: number
  /** Durable LSNs not yet done (includes records the stream filter will skip). */
  lagRecords: number
  inFlightBatches: number
  queuedBatches: number
  /** Records whose batch's handle() resolved (dry run: records counted). */
  delivered: number
  deliveredBatches: number
  deliveredBytes: number
  retries: number
  deadLettered: number
  emitted: number
  restarts: number
  /** Time the rate limit (`rateLimit`) held batches back, ms in total. */
  rateLimitedMs: number
  threads: number
  lastError: { code: string; message: string; atMs: number } | null
  /** Set while `state` is 'failed'. */
  failure: SubscriberFailure | null
}
