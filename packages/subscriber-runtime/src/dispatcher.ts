/**
 * The dispatcher of one subscriber: cursor → filter → batches → lanes → pool → commit.
 *
 *   cursor.read() ──▶ stream filter ──▶ builder per lane ──(full | maxWaitMs)──▶ lane queue (fastq, 1)
 *   (groups)
 *                        │ skipped                                                  │ deliver(): attempts,
 *                        ▼                                                          ▼ backoff, DLQ, emits
 *                   OffsetTracker ◀──────────────── batch done ─────────────────────┘
 *                        │ contiguous commit point (every N batches, every T ms, at close)
 *                        ▼
 *                   reader.groups.commit(group, nextLsn)
 *
 * Ordering: lanes = `concurrency`. With ordering 'module' a record goes to lane
 * hash(module) % lanes, and a lane runs one batch at a time, retries included: each module's
 * records are handled in log order (strict log order overall when concurrency is 1). With
 * 'none', full batches go to the least loaded lane: no order between batches.
 * A lane holds at most one running and one queued batch; when the target lane is full the
 * dispatcher stops reading — memory stays bounded and a slow subscriber only builds lag.
 *
 * The cursor hands out whole committed groups (the log's GroupCursor): records are filtered,
 * sharded and counted from the group's columns and a batch (batch.ts) keeps index runs into its
 * groups, so the main thread allocates nothing per record; the wire batch is encoded from them.
 */

import type { CodedError } from '@module-ingest/errors'
import { GroupCursor } from '@module-ingest/log'
import type { Logger } from '@module-ingest/subscriber-sdk'
import fastq from 'fastq'
import { Batch } from './batch.ts'
import type { ResolvedSubscriberConfig } from './config.ts'
import { deadLetters } from './dead-letter.ts'
import type { Emits } from './emit.ts'
import { MI_ERR_SUBSCRIBER_EMIT_FAILED } from './errors.ts'
import type { CommittedGroup, LogCursor, LogReader } from './log-types.ts'
import { OffsetTracker } from './offsets.ts'
import type { Outcome, SubscriberPool } from './pool.ts'
import { compileStreamFilter, type StreamFilter } from './stream-filter.ts'
import type {
  DurableSignal,
  RuntimeMetrics,
  SubscriberFailure,
  SubscriberState,
  SubscriberStats,
} from './types.ts'
import { Wakeups, wantRecords } from './waits.ts'

export interface DispatcherOptions {
  cfg: ResolvedSubscriberConfig
  reader: LogReader
  /** null in a dry run: batches are counted, never delivered, offsets never committed. */
  pool: SubscriberPool | null
  /** Derived records packed, dead letters as records (emit.ts). */
  emit: (records: Emits) => Promise<void>
  logger: Logger
  metrics: RuntimeMetrics | undefined
  durableSignal: DurableSignal | undefined
  commitEveryBatches: number
  commitIntervalMs: number
}

interface Lane {
  queue: fastq.queueAsPromised<Batch, void>
  /** Running + queued batches. */
  load: number
}

const kLaneDepth = 2
const kPollMs = 1000
/**
 * Batches whose handle() succeeded and whose derived records the host is still appending. The
 * lane does not wait for the append (a durable append is an fsync away: waiting serialised
 * handle and append and left the plugin's thread idle most of the time); the batch counts as
 * done, and the offset may pass it, only once the host accepted its records.
 */
const kMaxEmitting = 4

function fnv1a(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}

export class Dispatcher {
  readonly #o: DispatcherOptions
  readonly #filter: StreamFilter
  readonly #lanes: Lane[]
  readonly #builders: (Batch | null)[]
  /** Stops reading and retry backoffs (graceful close). */
  readonly #stop = new AbortController()
  /** Aborts in-flight pool tasks (close timeout). */
  readonly #hardStop = new AbortController()
  #tracker!: OffsetTracker
  #cursor: LogCursor | undefined
  #committed = 1
  #batchesSinceCommit = 0
  #commitChain: Promise<void> = Promise.resolve()
  #commitTimer: NodeJS.Timeout | undefined
  #state: SubscriberState = 'running'
  /** Everyone waiting for a lane to free up, an emit, a resume, a close or durable data. */
  readonly #wake: Wakeups
  #loopDone: Promise<void> = Promise.resolve()
  /** Batches waiting for the host's emit (see kMaxEmitting). */
  #emitting = 0
  /** Per-record checks read this, not the AbortSignal (its getter showed up in profiles). */
  #stopping = false
  #failure: SubscriberFailure | null = null
  /** resume() on a failed subscriber: re-check now instead of at nextRecheckAtMs. */
  #recheckNow = false
  /** module → builder index, for ordering 'module' over several lanes (strings repeat). */
  readonly #shard = new Map<string, number>()
  #finished: PromiseWithResolvers<void> = Promise.withResolvers()
  readonly #s = {
    delivered: 0,
    deliveredBatches: 0,
    deliveredBytes: 0,
    retries: 0,
    deadLettered: 0,
    emitted: 0,
    restarts: 0,
    lastError: null as SubscriberStats['lastError'],
  }

  constructor(o: DispatcherOptions) {
    this.#o = o
    this.#wake = new Wakeups(() => this.#cursor!, o.reader, o.durableSignal)
    this.#filter = compileStreamFilter(o.cfg.streams, `dlq.${o.cfg.name}`)
    const lanes = o.cfg.concurrency
    this.#lanes = Array.from({ length: lanes }, () => {
      const lane: Lane = {
        load: 0,
        queue: fastq.promise<unknown, Batch, void>(async (batch: Batch) => {
          try {
            await this.#deliver(batch)
          } finally {
            lane.load--
            this.#poke()
          }
        }, 1),
      }
      return lane
    })
    this.#builders = Array.from({ length: o.cfg.ordering === 'module' ? lanes : 1 }, () => null)
  }

  get name(): string {
    return this.#o.cfg.name
  }

  /** Resolves when an `until` bound was reached and everything before it is done and committed. */
  get finished(): Promise<void> {
    return this.#finished.promise
  }

  async start(): Promise<void> {
    const { cfg, reader } = this.#o
    const stored = await reader.groups.get(cfg.group)
    const committed = typeof stored === 'number' && stored > 0 ? stored : 1
    const from = cfg.from
    let cursorOpts: { fromLsn?: number; fromTimeUs?: number }
    if (from?.lsn !== undefined) {
      this.#committed = Math.max(1, from.lsn)
      cursorOpts = { fromLsn: this.#committed }
    } else if (from?.timeUs !== undefined) {
      this.#committed = 1
      cursorOpts = { fromTimeUs: from.timeUs }
    } else {
      this.#committed = committed
      cursorOpts = { fromLsn: committed }
    }
    this.#tracker = new OffsetTracker(this.#committed)
    this.#cursor = new GroupCursor(reader, cursorOpts)
    this.#commitTimer = setInterval(() => this.#commit(), this.#o.commitIntervalMs)
    this.#commitTimer.unref()
    this.#o.logger.info(
      {
        subscriber: cfg.name,
        group: cfg.group,
        fromLsn: cursorOpts.fromLsn,
        fromTimeUs: cursorOpts.fromTimeUs,
      },
      'SubscriberStarted',
    )
    this.#loopDone = this.#loop().catch((err) => {
      this.#noteError(err as CodedError)
      this.#o.logger.error({ subscriber: cfg.name, err }, 'SubscriberDispatcherError')
    })
  }

  pause(): void {
    if (this.#state === 'running') this.#state = 'paused'
  }

  /** Paused: read again. Failed: deliver the held batch again now (the operator fixed something). */
  resume(): void {
    if (this.#state === 'paused') {
      this.#state = 'running'
      this.#poke()
    } else if (this.#state === 'failed') {
      this.#recheckNow = true
      this.#poke()
    }
  }

  #lastDurable = 0

  stats(): SubscriberStats {
    // After close the reader may be closed too: report the last watermark seen.
    if (this.#state !== 'closed') {
      try {
        this.#lastDurable = this.#o.reader.durableLsn()
      } catch {}
    }
    const durable = this.#lastDurable
    const acked = this.#tracker ? this.#tracker.nextLsn() : this.#committed
    let inFlight = 0
    let queued = 0
    for (const lane of this.#lanes) {
      inFlight += lane.queue.running()
      queued += lane.queue.length()
    }
    inFlight += this.#emitting
    return {
      name: this.#o.cfg.name,
      group: this.#o.cfg.group,
      state: this.#state,
      nextLsn: this.#committed,
      ackedLsn: acked,
      scannedLsn: this.#tracker ? this.#tracker.scannedLsn() : this.#committed,
      lagRecords: Math.max(0, durable + 1 - acked),
      inFlightBatches: inFlight,
      queuedBatches: queued,
      ...this.#s,
      threads: this.#o.pool?.threads ?? 0,
      failure: this.#failure ? { ...this.#failure } : null,
    }
  }

  // --- reading and batching ------------------------------------------------------------------

  #poke(): void {
    this.#wake.poke()
  }

  /** See Wakeups.idle; `want` > 0 waits for durable data (wantRecords()). */
  #idle(ms: number, want = 0): Promise<void> {
    if (want > 0 && this.#stopping) return Promise.resolve()
    return this.#wake.idle(ms, want)
  }

  #wantRecords(): number {
    return wantRecords(this.#builders, this.#o.cfg, this.#cursor!.nextLsn)
  }

  #reachedUntil(lsn: number, rts: number): boolean {
    const u = this.#o.cfg.until
    if (u === undefined) return false
    return (u.lsn !== undefined && lsn > u.lsn) || (u.timeUs !== undefined && rts > u.timeUs)
  }

  async #loop(): Promise<void> {
    const { cfg } = this.#o
    const readMax = { maxRecords: cfg.batch.maxRecords, maxBytes: cfg.batch.maxBytes }
    let readFailures = 0
    if (cfg.until?.lsn !== undefined && this.#committed > cfg.until.lsn) return this.#finish()
    while (!this.#stop.signal.aborted) {
      // Failed: read nothing new; the lane holding the failed batch re-checks it.
      if (this.#state === 'paused' || this.#state === 'failed') {
        await this.#idle(kPollMs)
        continue
      }
      const durableBefore = this.#o.reader.durableLsn()
      let groups: CommittedGroup[]
      try {
        groups = await this.#cursor!.read(readMax)
        readFailures = 0
      } catch (err) {
        // A reader error (e.g. a segment removed by retention under us) must not kill fan-out.
        this.#noteError(err as CodedError)
        this.#o.logger.error({ subscriber: cfg.name, err }, 'SubscriberReadError')
        await this.#idle(Math.min(30_000, 100 * 2 ** Math.min(readFailures++, 8)))
        continue
      }
      if (groups.length === 0) {
        const untilLsn = cfg.until?.lsn
        this.#tracker.caughtUp(Math.min(durableBefore, untilLsn ?? durableBefore) + 1)
        if (untilLsn !== undefined && durableBefore >= untilLsn) {
          await this.#flushAll()
          return this.#finish()
        }
        await this.#flushDue()
        await this.#idle(this.#nextDeadline(), this.#wantRecords())
        continue
      }
      const hasUntil = cfg.until !== undefined
      const sharded = this.#builders.length > 1
      for (const g of groups) {
        // Per group, not per record: the filter per distinct stream, the lane per append.
        const wanted = g.streams.map(this.#filter)
        const lanes = sharded ? g.batches.map((b) => this.#shardOf(b.module)) : undefined
        for (let i = g.first; i < g.count; i++) {
          const lsn = g.baseLsn + i
          if (hasUntil && this.#reachedUntil(lsn, g.batches[g.batch[i]!]!.rts)) {
            await this.#flushAll()
            return this.#finish()
          }
          if (!wanted[g.stream[i]!]) {
            this.#tracker.add(lsn, null)
            continue
          }
          const idx = lanes ? lanes[g.batch[i]!]! : 0
          let b = this.#builders[idx]
          if (b == null) {
            b = new Batch()
            this.#builders[idx] = b
          }
          b.add(g, i)
          this.#tracker.add(lsn, b)
          if (b.count >= cfg.batch.maxRecords || b.bytes >= cfg.batch.maxBytes) {
            await this.#dispatch(idx)
            if (this.#stopping) return
          }
        }
      }
      await this.#flushDue()
    }
  }

  #shardOf(module: string): number {
    let idx = this.#shard.get(module)
    if (idx === undefined) {
      idx = fnv1a(module) % this.#builders.length
      if (this.#shard.size > 10_000) this.#shard.clear()
      this.#shard.set(module, idx)
    }
    return idx
  }

  /** Time until the oldest partial batch is due, capped by the poll interval. */
  #nextDeadline(): number {
    let ms = kPollMs
    const now = Date.now()
    for (const b of this.#builders) {
      if (b) ms = Math.min(ms, Math.max(1, b.openedAt + this.#o.cfg.batch.maxWaitMs - now))
    }
    return ms
  }

  async #flushDue(): Promise<void> {
    const now = Date.now()
    for (let i = 0; i < this.#builders.length; i++) {
      const b = this.#builders[i]
      if (b && now - b.openedAt >= this.#o.cfg.batch.maxWaitMs) await this.#dispatch(i)
    }
  }

  async #flushAll(): Promise<void> {
    for (let i = 0; i < this.#builders.length; i++) if (this.#builders[i]) await this.#dispatch(i)
  }

  /** Hand builder `idx`'s batch to its lane, waiting while that lane is full. */
  async #dispatch(idx: number): Promise<void> {
    const batch = this.#builders[idx]
    if (!batch) return
    this.#builders[idx] = null
    const pick = () =>
      this.#o.cfg.ordering === 'module'
        ? this.#lanes[idx]!
        : this.#lanes.reduce((a, b) => (b.load < a.load ? b : a))
    let lane = pick()
    while (lane.load >= kLaneDepth && !this.#stop.signal.aborted) {
      await this.#idle(kPollMs)
      lane = pick()
    }
    // On close the batch is dropped: it stays uncommitted and is redelivered after a restart.
    if (this.#stop.signal.aborted) return
    lane.load++
    lane.queue.push(batch).catch((err) => {
      this.#o.logger.error({ subscriber: this.name, err }, 'SubscriberDeliverError')
    })
  }

  // --- delivery --------------------------------------------------------------------------------

  #backoffMs(attempt: number): number {
    const { initialMs, maxMs } = this.#o.cfg.backoff
    const cap = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30))
    // Full jitter: spreads retries of many subscribers hitting the same broken dependency.
    return Math.round(cap / 2 + (Math.random() * cap) / 2)
  }

  #noteError(err: CodedError | Error): void {
    const code = (err as CodedError)?.code ?? 'MI_ERR_INTERNAL'
    this.#s.lastError = { code, message: err?.message ?? String(err), atMs: Date.now() }
  }

  async #deliver(batch: Batch): Promise<void> {
    const { cfg, pool, logger, metrics } = this.#o
    const n = batch.count
    const first = batch.firstLsn
    const last = batch.lastLsn
    if (pool === null) {
      this.#done(batch, n)
      return
    }
    let attempt = 1
    let unavailable = 0
    let lastError: CodedError | undefined
    const t0 = performance.now()
    while (attempt <= cfg.maxAttempts) {
      // Closing while failed: batches queued behind the failed one are not tried (they would fail).
      if (this.#stopping && this.#failure !== null) return
      const outcome: Outcome = await pool.run(batch, attempt, this.#hardStop.signal)
      if (outcome.kind === 'abandoned') return
      if (outcome.kind === 'fatal') {
        await this.#failed(outcome.error, first, last)
        if (this.#stopping) return
        continue
      }
      if (this.#failure !== null) this.#recovered(outcome.kind)
      if (outcome.kind === 'ok') {
        if (outcome.emits.length === 0) {
          metrics?.batchDelivered?.(cfg.name, n, performance.now() - t0)
          this.#done(batch, n)
          return
        }
        // Hand the derived records to the host and let the lane go on. Appends are issued in batch
        // order; only a failed append that is retried can land after a later batch's.
        while (this.#emitting >= kMaxEmitting && !this.#stopping) await this.#idle(kPollMs)
        this.#emitting++
        void this.#emitToHost(outcome.emits)
          .then((ok) => {
            if (!ok) return
            this.#s.emitted += outcome.emits.length
            metrics?.batchDelivered?.(cfg.name, n, performance.now() - t0)
            this.#done(batch, n)
          })
          .catch((err) => {
            // A throwing host callback must not become an unhandled rejection (it ends the process).
            this.#o.logger.error({ subscriber: this.name, err }, 'SubscriberDeliverError')
          })
          .finally(() => {
            this.#emitting--
            this.#poke()
          })
        return
      }
      lastError = outcome.error
      this.#noteError(outcome.error)
      if (outcome.kind === 'failed') {
        if (outcome.restarted) {
          this.#s.restarts++
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
        this.#s.retries++
        metrics?.batchRetried?.(cfg.name, outcome.error.code)
      } else {
        // unavailable: the plugin cannot load/init or its downstream is down — retry the same
        // attempt, never dead-letter. The wait grows with consecutive failures (not attempts, which
        // this does not spend), so a long outage backs off to backoff.maxMs instead of hammering.
        unavailable++
        const retryInMs = this.#backoffMs(unavailable)
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
        await sleep(retryInMs, this.#stop.signal)
        if (this.#stop.signal.aborted) return
        continue
      }
      await sleep(this.#backoffMs(attempt), this.#stop.signal)
      if (this.#stop.signal.aborted) return
    }
    const err = lastError!
    const letters = deadLetters(cfg, batch.records(), err)
    if (!(await this.#emitToHost(letters))) return
    this.#s.deadLettered += n
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
    this.#done(batch, 0)
  }

  /**
   * A `*_FATAL` error: retrying cannot help until someone changes something (credentials, a
   * bucket, a licence). No attempt is spent and nothing is dead-lettered: the subscriber stops
   * reading (state `failed`), holds this batch and delivers it again once per failedRecheckMs, or
   * at once on resume(). A broken bucket costs one request a minute, not a retry storm; a restart
   * starts over from the committed offset.
   */
  async #failed(err: CodedError, firstLsn: number, lastLsn: number): Promise<void> {
    const { cfg, logger, metrics } = this.#o
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
    if (this.#state === 'running' || this.#state === 'paused') this.#state = 'failed'
    this.#noteError(err)
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
    while (!this.#stopping && !this.#recheckNow && Date.now() < f.nextRecheckAtMs)
      await this.#idle(Math.max(1, f.nextRecheckAtMs - Date.now()))
  }

  /** A re-check got past the fatal condition (it may still fail in other ways). */
  #recovered(outcome: string): void {
    const f = this.#failure!
    this.#failure = null
    if (this.#state === 'failed') this.#state = 'running'
    this.#o.logger.info(
      {
        subscriber: this.name,
        code: f.code,
        failedForMs: Date.now() - f.sinceMs,
        rechecks: f.rechecks,
        outcome,
      },
      'SubscriberRecovered',
    )
    this.#poke()
  }

  /** Append via the host, retrying until it works or the runtime stops. False: gave up (closing). */
  async #emitToHost(records: Emits): Promise<boolean> {
    let attempt = 1
    for (;;) {
      try {
        await this.#o.emit(records)
        return true
      } catch (cause) {
        const err = new MI_ERR_SUBSCRIBER_EMIT_FAILED(this.name, (cause as Error)?.message ?? String(cause), {
          cause,
        })
        this.#noteError(err)
        this.#o.logger.error({ subscriber: this.name, err }, 'SubscriberEmitError')
      }
      await sleep(this.#backoffMs(attempt++), this.#stop.signal)
      if (this.#stop.signal.aborted) return false
    }
  }

  #done(batch: Batch, delivered: number): void {
    batch.done = true
    this.#s.delivered += delivered
    if (delivered > 0) {
      this.#s.deliveredBatches++
      this.#s.deliveredBytes += batch.bytes
    }
    batch.release()
    if (++this.#batchesSinceCommit >= this.#o.commitEveryBatches) this.#commit()
  }

  // --- offsets ---------------------------------------------------------------------------------

  /** Commit the contiguous done point if it moved. Serialised; errors are logged, not thrown. */
  #commit(): Promise<void> {
    if (this.#o.pool === null || this.#tracker === undefined) return this.#commitChain
    this.#commitChain = this.#commitChain.then(async () => {
      const next = this.#tracker.nextLsn()
      if (next <= this.#committed) return
      this.#batchesSinceCommit = 0
      try {
        await this.#o.reader.groups.commit(this.#o.cfg.group, next)
        this.#committed = next
        this.#o.metrics?.offsetCommitted?.(this.name, next)
      } catch (err) {
        this.#noteError(err as Error)
        this.#o.logger.error({ subscriber: this.name, err }, 'SubscriberCommitError')
      }
    })
    return this.#commitChain
  }

  /** Until no lane holds a batch, or `signal` aborts (then resolves false). */
  async #drained(signal?: AbortSignal): Promise<boolean> {
    while (this.#emitting > 0 || this.#lanes.some((l) => l.load > 0)) {
      if (signal?.aborted) return false
      await this.#idle(kPollMs)
    }
    return true
  }

  async #finish(): Promise<void> {
    await this.#drained()
    await this.#commit()
    if (this.#state === 'running' || this.#state === 'paused') this.#state = 'finished'
    this.#o.logger.info({ subscriber: this.name, nextLsn: this.#committed }, 'SubscriberFinished')
    this.#finished.resolve()
  }

  /**
   * Graceful stop: no new batches; in-flight ones get `timeoutMs` to finish, then their tasks
   * are aborted (their threads destroyed). Partial and aborted batches stay uncommitted.
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.#state === 'closed') return
    this.#state = 'closing'
    this.#stopping = true
    this.#stop.abort()
    this.#poke()
    const deadline = new AbortController()
    const graceful = await Promise.race([
      this.#drained(deadline.signal),
      sleep(timeoutMs, deadline.signal).then(() => false),
    ])
    deadline.abort() // ends whichever of the two still waits: a live timer would hold the process open
    if (!graceful) this.#o.logger.warn({ subscriber: this.name, timeoutMs }, 'SubscriberCloseTimeoutError')
    // Aborts running tasks; queued ones then start, see the abort and return at once.
    this.#hardStop.abort()
    await this.#drained()
    await this.#loopDone
    clearInterval(this.#commitTimer)
    await this.#commit()
    await this.#o.pool?.close(Math.max(100, timeoutMs))
    this.stats() // keep the final watermark for stats() after the reader is gone
    this.#cursor?.close?.()
    this.#state = 'closed'
    this.#finished.resolve()
    this.#o.logger.info({ subscriber: this.name, nextLsn: this.#committed }, 'SubscriberClosed')
  }
}
