import { type SubscriberContext, sleep } from '@module-ingest/subscriber-sdk'
import { classifyS3Error, describeS3Error, StepError } from './classify.ts'
import type { S3SubscriberConfig } from './config.ts'
import { MI_ERR_S3_BUCKET_FATAL, MI_ERR_S3_UNAVAILABLE } from './errors.ts'

/** One HeadBucket on the configured bucket; rejects with the SDK's error. */
export type HeadBucket = (signal: AbortSignal) => Promise<unknown>

/**
 * The two ways the store is out, and how the uploader paces itself meanwhile. The uploader asks
 * before a batch (`waitIfFailed`, `checkReachable`), reports what its upload hit (`fail`,
 * `unavailable`) and that one got through (`recovered`); this class holds the state, the backoff,
 * the probing, the log lines and the `s3_failed` gauge.
 *
 *   failed   (classify.ts `config`): one error line per re-check, gauge s3_failed = 1; until
 *            failedRecheckMs has passed, a redelivery waits (≤ maxHandleWaitMs) and throws
 *            MI_ERR_S3_BUCKET_FATAL without a request; once due, that batch's upload is the re-check
 *   offline  (`unavailable`): each round holds the batch for a backoff (capped, jittered), probing
 *            the store, then throws MI_ERR_S3_UNAVAILABLE with retryAfterMs 0 (the runtime retries
 *            at once); the next round starts with a HeadBucket, not with encoding the batch
 *
 * Both end with the next acknowledged upload.
 */
export class Outage {
  readonly #config: S3SubscriberConfig
  readonly #deps: Pick<SubscriberContext, 'logger' | 'metrics'>
  readonly #headBucket: HeadBucket
  #failed: { reason: string; key: string; nextCheckAt: number } | null = null
  #offlineRounds = 0
  /** Offline: the last wait ended with the store answering a probe (the next round skips its own). */
  #answered = false

  constructor(
    config: S3SubscriberConfig,
    deps: Pick<SubscriberContext, 'logger' | 'metrics'>,
    headBucket: HeadBucket,
  ) {
    this.#config = config
    this.#deps = deps
    this.#headBucket = headBucket
  }

  /**
   * The check at start, in the background (the store may be offline at boot): is the bucket
   * usable? Only a configuration error fails the subscriber; anything else waits for the first batch.
   */
  async checkBucket(signal: AbortSignal): Promise<void> {
    // Set before the first await, so the gauge exists (at 0) from start() on.
    this.#deps.metrics.gauge('s3_failed').set(0)
    try {
      await this.#headBucket(signal)
      this.#deps.logger.info({ event: 'S3BucketReady', bucket: this.#config.bucket }, 'bucket is reachable')
    } catch (err) {
      if (signal.aborted) return
      const kind = classifyS3Error(err)
      // HeadBucket has no body: a 404/403 comes back without an S3 code, only the status. It needs
      // s3:ListBucket: write-only credentials with `reconcile: off` get a 403 here and still work,
      // so a 403 only fails the subscriber when reconcile's LISTs would fail the same way.
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
      const writeOnlyMaybe = status === 403 && this.#config.reconcile === 'off'
      if ((kind === 'config' && !writeOnlyMaybe) || (kind === 'rejected' && status === 404)) {
        this.fail(new StepError('(HeadBucket)', err))
      } else {
        this.#deps.logger.warn(
          { event: 'S3BucketUnreachable', bucket: this.#config.bucket, err: describeS3Error(err) },
          'bucket not reachable yet; records wait in the log',
        )
      }
    }
  }

  /** A configuration error: state failed until a re-check (the upload after failedRecheckMs) succeeds. */
  fail(step: StepError): void {
    const { bucket, failedRecheckMs } = this.#config
    const first = this.#failed === null
    this.#failed = { reason: step.message, key: step.key, nextCheckAt: Date.now() + failedRecheckMs }
    this.#deps.metrics.gauge('s3_failed').set(1)
    this.#deps.metrics.counter('s3_config_errors_total').inc()
    // One error line per re-check (default once a minute), never one per redelivery.
    this.#deps.logger.error(
      {
        event: 'S3ConfigError',
        bucket,
        key: step.key,
        err: step.message,
        recheckInMs: failedRecheckMs,
        first,
      },
      `s3 subscriber failed: bucket ${bucket}, key ${step.key}: ${step.message}. Records wait in the log; fix the options and restart, or wait for the re-check`,
    )
  }

  /** While failed: wait (bounded by maxHandleWaitMs) and throw, until a re-check is due. */
  async waitIfFailed(signal: AbortSignal): Promise<void> {
    const failed = this.#failed
    if (failed === null) return
    const left = failed.nextCheckAt - Date.now()
    if (left > 0) {
      await sleep(Math.min(left, this.#config.maxHandleWaitMs), signal)
      if (Date.now() < failed.nextCheckAt || signal.aborted) {
        throw new MI_ERR_S3_BUCKET_FATAL(
          this.#config.bucket,
          failed.key,
          failed.reason,
          this.#config.failedRecheckMs,
        )
      }
    }
    // Due: this batch's upload is the re-check.
  }

  /**
   * Offline and the last wait ended without an answer: one HeadBucket says whether to try, rather
   * than encoding and compressing the whole batch for a PUT that fails. Throws as `unavailable`
   * does when the store is still out.
   */
  async checkReachable(deadline: number, signal: AbortSignal): Promise<void> {
    if (this.#offlineRounds === 0 || this.#answered) return
    const down = await this.#unreachable(AbortSignal.any([signal, untilSignal(deadline)]))
    if (down !== null) {
      this.#deps.metrics.counter('s3_retries_total').inc()
      await this.unavailable(new StepError('(HeadBucket)', down), deadline, signal)
    }
  }

  /**
   * The store is unreachable: hold the batch for this round's backoff (capped, jittered), probing
   * the store every ~offlineProbeMs, then report MI_ERR_S3_UNAVAILABLE with retryAfterMs 0. The
   * wait already happened here, so the runtime must not add its own (up to 30 s) on top: a store
   * that came back is used within one probe interval (subscriber-runtime README, "Unavailable
   * downstreams").
   */
  async unavailable(step: StepError, deadline: number, signal: AbortSignal): Promise<never> {
    this.#deps.metrics.counter('s3_unavailable_total').inc()
    const waitMs = Math.min(this.#backoffMs(++this.#offlineRounds), Math.max(0, deadline - Date.now()))
    this.#deps.logger.warn(
      {
        event: 'S3UnavailableError',
        bucket: this.#config.bucket,
        key: step.key,
        err: step.message,
        round: this.#offlineRounds,
        retryInMs: waitMs,
        probeEveryMs: this.#config.offlineProbeMs,
      },
      'S3 unreachable; the batch stays in the log and is retried',
    )
    this.#answered = await this.#waitForStore(waitMs, signal)
    const err = new MI_ERR_S3_UNAVAILABLE(
      this.#config.endpoint ?? `s3.${this.#config.region}`,
      this.#config.bucket,
      step.message,
      { cause: step.cause },
    )
    throw Object.assign(err, { retryAfterMs: 0 })
  }

  /** An upload was acknowledged: leave both states. */
  recovered(): void {
    if (this.#failed !== null) {
      this.#deps.logger.info(
        { event: 'S3ConfigRecovered', bucket: this.#config.bucket },
        'bucket usable again',
      )
      this.#deps.metrics.gauge('s3_failed').set(0)
      this.#failed = null
    }
    if (this.#offlineRounds > 0) {
      this.#deps.logger.info(
        { event: 'S3Reachable', bucket: this.#config.bucket, afterRounds: this.#offlineRounds },
        'S3 reachable again',
      )
      this.#offlineRounds = 0
      this.#answered = false
    }
  }

  /** Up to `ms`, a HeadBucket every ~offlineProbeMs (jittered: hosts coming back must not probe in step). True: the store answered. */
  async #waitForStore(ms: number, signal: AbortSignal): Promise<boolean> {
    const until = Date.now() + ms
    const every = this.#config.offlineProbeMs
    for (;;) {
      const left = until - Date.now()
      if (left <= 0 || signal.aborted) return false
      await sleep(Math.min(left, Math.round(every / 2 + (Math.random() * every) / 2)), signal)
      if (signal.aborted || Date.now() >= until) return false
      // Bounded by the wait: a probe into a half-open uplink must not stretch handle() past
      // handleBudgetMs (then timeoutMs would count it as a failed attempt).
      if ((await this.#unreachable(AbortSignal.any([signal, untilSignal(until)]))) === null) return true
    }
  }

  /**
   * One HeadBucket. Null when the store answered anything but an outage (a 403 for write-only
   * keys, a 404: the upload reports those properly), else the error.
   */
  async #unreachable(signal: AbortSignal): Promise<unknown> {
    try {
      await this.#headBucket(signal)
      return null
    } catch (err) {
      return signal.aborted || classifyS3Error(err) === 'unavailable' ? err : null
    }
  }

  #backoffMs(round: number): number {
    const { initialMs, maxMs } = this.#config.offlineBackoff
    const cap = Math.min(maxMs, this.#config.maxHandleWaitMs, initialMs * 2 ** Math.min(round - 1, 30))
    // Full jitter: many edge hosts coming back online at once must not hit the store in step.
    return Math.round(cap / 2 + (Math.random() * cap) / 2)
  }
}

function untilSignal(atMs: number): AbortSignal {
  return AbortSignal.timeout(Math.max(1, atMs - Date.now()))
}
