/**
 * The dispatcher of one subscriber: cursor → filter → batches → lanes → pool → commit.
 *
 *   cursor.read() ──▶ stream filter ──▶ Lanes (lanes.ts): builder per lane ──(full | maxWaitMs)──▶ lane queue
 *   (groups)
 *                        │ skipped                                            │ Delivery (delivery.ts): attempts,
 *                        ▼                                                    ▼ backoff, failed state, DLQ, emits
 *                   OffsetTracker ◀──────────────── batch done ───────────────┘
 *                        │ contiguous commit point (every N batches, every T ms, at close)
 *                        ▼
 *                   reader.groups.commit(group, nextLsn)
 *
 * This file: the read loop, the subscriber's state and its lifecycle (start, pause/resume, stats,
 * until, close). Where reading starts, the OffsetTracker and the commits: commits.ts.
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
 *
 * All of it runs on the host's main thread (the server's ingest sockets too), so none of it takes
 * a whole batch per event-loop turn: the cursor decodes a read in slices, the read loop yields every
 * kSliceRecords records and Batch.encode every slice (slices.ts).
 */
import type { CodedError } from '@module-ingest/errors'
import { GroupCursor } from '@module-ingest/log'
import { type Logger, sleep } from '@module-ingest/subscriber-sdk'
import type { Batch } from './batch.ts'
import { Commits } from './commits.ts'
import type { ResolvedSubscriberConfig } from './config.ts'
import { Delivery, type DeliveryCounters } from './delivery.ts'
import type { Emits } from './emit.ts'
import { Lanes } from './lanes.ts'
import type { CommittedGroup, LogCursor, LogReader } from './log-types.ts'
import { ingestWatch, Pacer } from './pace.ts'
import type { SubscriberPool } from './pool.ts'
import { kSliceBytes, kSliceRecords, nextTurn } from './slices.ts'
import { compileStreamFilter, type StreamFilter } from './stream-filter.ts'
import type { DurableSignal, RuntimeMetrics, SubscriberState, SubscriberStats } from './types.ts'
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

const kPollMs = 1000

export class Dispatcher {
  readonly #o: DispatcherOptions
  readonly #filter: StreamFilter
  readonly #lanes: Lanes
  readonly #delivery: Delivery
  /** Stops reading and retry backoffs (graceful close). */
  readonly #stop = new AbortController()
  /** Aborts in-flight pool tasks (close timeout). */
  readonly #hardStop = new AbortController()
  /** Where reading starts, the tracker, the commits (commits.ts). */
  readonly #commits: Commits
  #cursor: LogCursor | undefined
  #state: SubscriberState = 'running'
  /** Everyone waiting for a lane to free up, an emit, a resume, a close or durable data. */
  readonly #wake: Wakeups
  #loopDone: Promise<void> = Promise.resolve()
  /** Per-record checks read this, not the AbortSignal (its getter showed up in profiles). */
  #stopping = false
  #finished: PromiseWithResolvers<void> = Promise.withResolvers()
  readonly #s: DeliveryCounters = {
    delivered: 0,
    deliveredBatches: 0,
    deliveredBytes: 0,
    retries: 0,
    deadLettered: 0,
    emitted: 0,
    restarts: 0,
    rateLimitedMs: 0,
    lastError: null,
  }

  constructor(o: DispatcherOptions) {
    this.#o = o
    this.#commits = new Commits(o, (err) => this.#delivery.noteError(err))
    this.#wake = new Wakeups(() => this.#cursor!, o.reader, o.durableSignal)
    this.#filter = compileStreamFilter(o.cfg.streams, `dlq.${o.cfg.name}`)
    const idle = (ms: number) => this.#idle(ms)
    const poke = () => this.#poke()
    this.#delivery = new Delivery({
      cfg: o.cfg,
      pool: o.pool,
      emit: o.emit,
      logger: o.logger,
      metrics: o.metrics,
      stop: this.#stop.signal,
      hardStop: this.#hardStop.signal,
      counters: this.#s,
      stopping: () => this.#stopping,
      idle,
      poke,
      done: (batch, delivered) => this.#done(batch, delivered),
      failedState: (failed) => {
        if (failed && (this.#state === 'running' || this.#state === 'paused')) this.#state = 'failed'
        else if (!failed && this.#state === 'failed') this.#state = 'running'
      },
    })
    // The rate limit, when the entry or its plugin sets one (pace.ts).
    const limit = o.cfg.rateLimit.limit
    const pacer =
      limit &&
      new Pacer(
        limit,
        ingestWatch(() => o.reader.durableLsn()),
      )
    this.#lanes = new Lanes({
      cfg: o.cfg,
      logger: o.logger,
      deliver: (batch) => this.#delivery.deliver(batch),
      poke,
      idle,
      stop: this.#stop.signal,
      ...(pacer
        ? {
            pace: (bytes: number) => {
              const ms = pacer.take(bytes)
              this.#s.rateLimitedMs += ms
              return ms
            },
          }
        : {}),
    })
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
    const cursorOpts = await this.#commits.open()
    // Groups of streams this subscriber does not read (derived records, other subscribers'
    // dead letters) come back undecoded. Not with `until`, which reads each record's receive time.
    const wants = cfg.until === undefined ? this.#filter : undefined
    // sliceBytes: a read of a whole batch's groups (one I/O) is CRC-checked and decoded in slices.
    this.#cursor = new GroupCursor(reader, { ...cursorOpts, wants, sliceBytes: kSliceBytes })
    this.#commits.startTimer()
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
      this.#delivery.noteError(err as CodedError)
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
      this.#delivery.recheckNow()
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
    const acked = this.#commits.tracker ? this.#commits.tracker.nextLsn() : this.#commits.committed
    const { running, queued } = this.#lanes.counts()
    const failure = this.#delivery.failure
    return {
      name: this.#o.cfg.name,
      group: this.#o.cfg.group,
      state: this.#state,
      nextLsn: this.#commits.committed,
      ackedLsn: acked,
      scannedLsn: this.#commits.tracker ? this.#commits.tracker.scannedLsn() : this.#commits.committed,
      lagRecords: Math.max(0, durable + 1 - acked),
      inFlightBatches: running + this.#delivery.emitting,
      queuedBatches: queued,
      ...this.#s,
      threads: this.#o.pool?.threads ?? 0,
      failure: failure ? { ...failure } : null,
    }
  }

  // --- reading ---------------------------------------------------------------------------------

  #poke(): void {
    this.#wake.poke()
  }

  /** See Wakeups.idle; `want` > 0 waits for durable data (wantRecords()). */
  #idle(ms: number, want = 0): Promise<void> {
    if (want > 0 && this.#stopping) return Promise.resolve()
    return this.#wake.idle(ms, want)
  }

  #wantRecords(): number {
    return wantRecords(this.#lanes.builders, this.#o.cfg, this.#cursor!.nextLsn)
  }

  #reachedUntil(lsn: number, rts: number): boolean {
    const u = this.#o.cfg.until
    if (u === undefined) return false
    return (u.lsn !== undefined && lsn > u.lsn) || (u.timeUs !== undefined && rts > u.timeUs)
  }

  async #loop(): Promise<void> {
    const { cfg } = this.#o
    const lanes = this.#lanes
    const readMax = { maxRecords: cfg.batch.maxRecords, maxBytes: cfg.batch.maxBytes }
    let readFailures = 0
    // Records added since the last yield (slices.ts): a read brings up to a whole batch, and a read
    // served from the cursor's pending groups does no I/O (no turn ends there).
    let sliced = 0
    if (cfg.until?.lsn !== undefined && this.#commits.committed > cfg.until.lsn) return this.#finish()
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
        this.#delivery.noteError(err as CodedError)
        this.#o.logger.error({ subscriber: cfg.name, err }, 'SubscriberReadError')
        await this.#idle(Math.min(30_000, 100 * 2 ** Math.min(readFailures++, 8)))
        continue
      }
      if (groups.length === 0) {
        const untilLsn = cfg.until?.lsn
        this.#commits.tracker.caughtUp(Math.min(durableBefore, untilLsn ?? durableBefore) + 1)
        if (untilLsn !== undefined && durableBefore >= untilLsn) {
          await lanes.flushAll()
          return this.#finish()
        }
        await lanes.flushDue()
        await this.#idle(lanes.nextDeadline(), this.#wantRecords())
        continue
      }
      const hasUntil = cfg.until !== undefined
      for (const g of groups) {
        if (g.filtered) {
          if (g.first < g.count) this.#commits.tracker.add(g.baseLsn + g.first, null, g.baseLsn + g.count - 1)
          continue
        }
        // Per group, not per record: the filter per distinct stream, the lane per append.
        const wanted = g.streams.map(this.#filter)
        const builderOf = lanes.buildersOf(g)
        for (let i = g.first; i < g.count; i++) {
          if (++sliced === kSliceRecords) {
            sliced = 0
            await nextTurn()
            if (this.#stopping) return
          }
          const lsn = g.baseLsn + i
          if (hasUntil && this.#reachedUntil(lsn, g.batches[g.batch[i]!]!.rts)) {
            await lanes.flushAll()
            return this.#finish()
          }
          if (!wanted[g.stream[i]!]) {
            this.#commits.tracker.add(lsn, null)
            continue
          }
          const idx = builderOf ? builderOf[g.batch[i]!]! : 0
          const b = lanes.add(idx, g, i)
          this.#commits.tracker.add(lsn, b)
          if (b.count >= cfg.batch.maxRecords || b.bytes >= cfg.batch.maxBytes) {
            await lanes.dispatch(idx)
            if (this.#stopping) return
          }
        }
      }
      await lanes.flushDue()
    }
  }

  // --- offsets ---------------------------------------------------------------------------------

  #done(batch: Batch, delivered: number): void {
    batch.done = true
    this.#s.delivered += delivered
    if (delivered > 0) {
      this.#s.deliveredBatches++
      this.#s.deliveredBytes += batch.bytes
    }
    batch.release()
    this.#commits.batchDone()
  }

  // --- end: until reached, close ---------------------------------------------------------------

  /** Until no lane holds a batch, or `signal` aborts (then resolves false). */
  async #drained(signal?: AbortSignal): Promise<boolean> {
    while (this.#delivery.emitting > 0 || this.#lanes.busy()) {
      if (signal?.aborted) return false
      await this.#idle(kPollMs)
    }
    return true
  }

  async #finish(): Promise<void> {
    await this.#drained()
    await this.#commits.commit()
    if (this.#state === 'running' || this.#state === 'paused') this.#state = 'finished'
    this.#o.logger.info({ subscriber: this.name, nextLsn: this.#commits.committed }, 'SubscriberFinished')
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
    this.#commits.stopTimer()
    await this.#commits.commit()
    await this.#o.pool?.close(Math.max(100, timeoutMs))
    this.stats() // keep the final watermark for stats() after the reader is gone
    this.#cursor?.close?.()
    this.#state = 'closed'
    this.#finished.resolve()
    this.#o.logger.info({ subscriber: this.name, nextLsn: this.#commits.committed }, 'SubscriberClosed')
  }
}
