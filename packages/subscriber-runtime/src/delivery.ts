/**
 * Delivery of one batch, for the dispatcher's lanes: attempts in the pool, backoff, the failed
 * state, dead letters and the host's emit of derived records.
 *
 *   pool.run(batch, attempt) ──ok──▶ emits? ──no──▶ done(batch)
 *        │                             └─yes─▶ #emitToHost (lane goes on, ≤ kMaxEmitting) ─▶ done(batch)
 *        ├─failed──────▶ attempt++ , backoff ──(attempts used up)──▶ dead letters ─▶ #emitToHost ─▶ done(batch, 0)
 *        ├─unavailable─▶ backoff over consecutive failures, same attempt, never dead-lettered
 *        ├─fatal───────▶ #failed: state 'failed', hold the batch, re-check every failedRecheckMs
 *        └─abandoned───▶ closing: the batch stays uncommitted
 */

import type { CodedError } from '@module-ingest/errors'
import { type Logger, sleep } from '@module-ingest/subscriber-sdk'
import type { Batch } from './batch.ts'
import type { ResolvedSubscriberConfig } from './config.ts'
import { deadLetters } from './dead-letter.ts'
import type { Emits } from './emit.ts'
import { MI_ERR_SUBSCRIBER_EMIT_FAILED } from './errors.ts'
import type { Outcome, SubscriberPool } from './pool.ts'
import type { RuntimeMetrics, SubscriberFailure, SubscriberStats } from './types.ts'
import { unavailableWaitMs } from './unavailable.ts'

const kPollMs = 1000
/**
 * Batches whose handle() succeeded and whose derived records the host is still appending. The
 * lane does not wait for the append (a durable append is an fsync away: waiting serialised
 * handle and append and left the plugin's thread idle most of the time); the batch counts as
 * done, and the offset may pass it, only once the host accepted its records.
 */
const kMaxEmitting = 4

export type DeliveryCounters = Omit<
  SubscriberStats,
  | 'name'
  | 'group'
  | 'state'
  | 'nextLsn'
  | 'ackedLsn'
  | 'scannedLsn'
  | 'lagRecords'
  | 'inFlightBatches'
  | 'queuedBatches'
  | 'threads'
  | 'failure'
>

/** What delivery needs from its dispatcher. */
export interface DeliveryHost {
  cfg: ResolvedSubscriberConfig
  /** null in a dry run: batches are counted, never delivered. */
  pool: SubscriberPool | null
  emit: (records: Emits) => Promise<void>
  logger: Logger
  metrics: RuntimeMetrics | undefined
  /** Aborted on graceful close: stops backoffs and emit retries. */
  stop: AbortSignal
  /** Aborted at the close timeout: aborts in-flight pool tasks. */
  hardStop: AbortSignal
  /** Counters shared with stats(); delivery updates them. */
  counters: DeliveryCounters
  /** A plain flag for the hot paths (the AbortSignal's getter showed up in profiles). */
  stopping(): boolean
  /** Until poked or `ms` passed (Wakeups.idle). */
  idle(ms: number): Promise<void>
  poke(): void
  /** The batch is delivered (`delivered` records) or dead-lettered (0): its offset may pass. */
  done(batch: Batch, delivered: number): void
  /** A `*_FATAL` error put the subscriber in (true) or out of (false) the failed state. */
  failedState(failed: boolean): void
}

export class Delivery {
  readonly #h: DeliveryHost
  /** Batches waiting for the host's emit (see kMaxEmitting). */
  #emitting = 0
  #failure: SubscriberFailure | null = null
  /** recheckNow() on a failed subscriber: re-check at once instead of at nextRecheckAtMs. */
  #recheckNow = false

  constructor(host: DeliveryHost) {
    this.#h = host
  }

  /** Batches whose derived records the host is still appending. */
  get emitting(): number {
    return this.#emitting
  }

  /** Set while a `*_FATAL` error holds the subscriber (state `failed`). */
  get failure(): SubscriberFailure | null {
    return this.#failure
  }

  /** resume() on a failed subscriber: deliver the held batch again now. */
  recheckNow(): void {
    this.#recheckNow = true
    this.#h.poke()
  }

  noteError(err: CodedError | Error): void {
    const code = (err as CodedError)?.code ?? 'MI_ERR_INTERNAL'
    this.#h.counters.lastError = { code, message: err?.message ?? String(err), atMs: Date.now() }
  }

  #backoffMs(attempt: number): number {
    const { initialMs, maxMs } = this.#h.cfg.backoff
    const cap = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30))
    // Full jitter: spreads retries of many subscribers hitting the same broken dependency.
    return Math.round(cap / 2 + (Math.random() * cap) / 2)
  }

  async deliver(batch: Batch): Promise<void> {
    const { cfg, pool, logger, metrics, counters } = this.#h
    const n = batch.count
    const first = batch.firstLsn
    const last = batch.lastLsn
    if (pool === null) {
      this.#h.done(batch, n)
      return
    }
    let attempt = 1
    let unavailable = 0
    let lastError: CodedError | undefined
    const t0 = performance.now()
    while (attempt <= cfg.maxAttempts) {
      // Closing while failed: batches queued behind the failed one are not tried (they would fail).
      if (this.#h.stopping() && this.#failure !== null) return
      const started = performance.now()
      const outcome: Outcome = await pool.run(batch, attempt, this.#h.hardStop)
      if (outcome.kind === 'abandoned') return
      if (outcome.kind === 'fatal') {
        await this.#failed(outcome.error, first, last)
        if (this.#h.stopping()) return
        continue
      }
      if (this.#failure !== null) this.#recovered(outcome.kind)
      if (outcome.kind === 'ok') {
        if (outcome.emits.length === 0) {
          metrics?.batchDelivered?.(cfg.name, n, performance.now() - t0)
          this.#h.done(batch, n)
          return
        }
        // Hand the derived records to the host and let the lane go on. Appends are issued in batch
        // order; only a failed append that is retried can land after a later batch's.
        while (this.#emitting >= kMaxEmitting && !this.#h.stopping()) await this.#h.idle(kPollMs)
        this.#emitting++
        void this.#emitToHost(outcome.emits)
          .then((ok) => {
            if (!ok) return
            counters.emitted += outcome.emits.length
            metrics?.batchDelivered?.(cfg.name, n, performance.now() - t0)
            this.#h.done(batch, n)
          })
          .catch((err) => {
            // A throwing host callback must not become an unhandled rejection (it ends the process).
            logger.error({ subscriber: cfg.name, err }, 'SubscriberDeliverError')
          })
          .finally(() => {
            this.#emitting--
            this.#h.poke()
          })
        return
      }
      lastError = outcome.error
      this.noteError(outcome.error)
      if (outcome.kind === 'failed') {
        if (outcome.restarted) {
          counters.restarts++
          metrics?.workerRestarted?.(cfg.name, outcome.error.code)
          logger.warn(
            {
              subscriber: cfg.name,
              code: outcome.error.code,
              err: outcome.error,
              firstLsn: first,
              lastLsn: last,
            },
            'SubscriberWorkerRestarted',
          )
        }
        logger.warn(
          {
            subscriber: cfg.name,
            attempt,
            maxAttempts: cfg.maxAttempts,
            err: outcome.error,
            firstLsn: first,
            lastLsn: last,
          },
          'SubscriberBatchFailedError',
        )
        attempt++
        if (attempt > cfg.maxAttempts) break
        counters.retries++
        metrics?.batchRetried?.(cfg.name, outcome.error.code)
      } else {
        // unavailable: the plugin cannot load/init or its downstream is down — retry the same
        // attempt, never dead-letter. The wait grows with consecutive failures (not attempts, which
        // this does not spend), so a long outage backs off to backoff.maxMs instead of hammering;
        // unless the plugin paced itself and says how soon to retry (unavailable.ts).
        unavailable++
        const retryInMs = unavailableWaitMs(
          outcome.error,
          this.#backoffMs(unavailable),
          performance.now() - started,
          cfg.backoff.initialMs,
        )
        logger.error(
          {
            subscriber: cfg.name,
            err: outcome.error,
            code: outcome.error.code,
            failures: unavailable,
            retryInMs,
          },
          /_UNAVAILABLE$/.test(outcome.error.code) ? 'SubscriberUnavailable' : 'SubscriberInitFailedError',
        )
        await sleep(retryInMs, this.#h.stop)
        if (this.#h.stop.aborted) return
        continue
      }
      await sleep(this.#backoffMs(attempt), this.#h.stop)
      if (this.#h.stop.aborted) return
    }
    const err = lastError!
    const letters = deadLetters(cfg, batch.records(), err)
    if (!(await this.#emitToHost(letters))) return
    counters.deadLettered += n
    metrics?.batchDeadLettered?.(cfg.name, n, err.code)
    logger.error(
      {
        subscriber: cfg.name,
        code: err.code,
        firstLsn: first,
        lastLsn: last,
        records: n,
        stream: `dlq.${cfg.name}`,
      },
      'SubscriberBatchDeadLettered',
    )
    this.#h.done(batch, 0)
  }

  /**
   * A `*_FATAL` error: retrying cannot help until someone changes something (credentials, a
   * bucket, a licence). No attempt is spent and nothing is dead-lettered: the subscriber stops
   * reading (state `failed`), holds this batch and delivers it again once per failedRecheckMs, or
   * at once on resume(). A broken bucket costs one request a minute, not a retry storm; a restart
   * starts over from the committed offset.
   */
  async #failed(err: CodedError, firstLsn: number, lastLsn: number): Promise<void> {
    const { cfg, logger, metrics } = this.#h
    const now = Date.now()
    const entering = this.#failure === null
    const f: SubscriberFailure = this.#failure ?? {
      code: err.code,
      message: err.message,
      sinceMs: now,
      rechecks: -1,
      nextRecheckAtMs: 0,
    }
    f.code = err.code
    f.message = err.message
    f.rechecks++
    f.nextRecheckAtMs = now + cfg.failedRecheckMs
    this.#failure = f
    this.#h.failedState(true)
    this.noteError(err)
    metrics?.subscriberFailed?.(cfg.name, err.code)
    logger.error(
      {
        subscriber: cfg.name,
        code: err.code,
        err,
        firstLsn,
        lastLsn,
        rechecks: f.rechecks,
        recheckInMs: cfg.failedRecheckMs,
      },
      entering ? 'SubscriberFailed' : 'SubscriberStillFailed',
    )
    this.#recheckNow = false
    while (!this.#h.stopping() && !this.#recheckNow && Date.now() < f.nextRecheckAtMs)
      await this.#h.idle(Math.max(1, f.nextRecheckAtMs - Date.now()))
  }

  /** A re-check got past the fatal condition (it may still fail in other ways). */
  #recovered(outcome: string): void {
    const f = this.#failure!
    this.#failure = null
    this.#h.failedState(false)
    this.#h.logger.info(
      {
        subscriber: this.#h.cfg.name,
        code: f.code,
        failedForMs: Date.now() - f.sinceMs,
        rechecks: f.rechecks,
        outcome,
      },
      'SubscriberRecovered',
    )
    this.#h.poke()
  }

  /** Append via the host, retrying until it works or the runtime stops. False: gave up (closing). */
  async #emitToHost(records: Emits): Promise<boolean> {
    const name = this.#h.cfg.name
    let attempt = 1
    for (;;) {
      try {
        await this.#h.emit(records)
        return true
      } catch (cause) {
        const err = new MI_ERR_SUBSCRIBER_EMIT_FAILED(name, (cause as Error)?.message ?? String(cause), {
          cause,
        })
        this.noteError(err)
        this.#h.logger.error({ subscriber: name, err }, 'SubscriberEmitError')
      }
      await sleep(this.#backoffMs(attempt++), this.#h.stop)
      if (this.#h.stop.aborted) return false
    }
  }
}
