/**
 * The dispatcher's lanes and the batches being built for them.
 *
 *   record ──▶ builder (one per lane with ordering 'module', else one) ──(full | maxWaitMs)──▶
 *   dispatch(): the builder's lane (ordering 'module') or the least loaded one ('none'),
 *   waiting while it is full, then for the rate limit if any (pace.ts) ──▶
 *   lane queue (fastq, 1 running + 1 queued) ──▶ deliver(batch)
 *
 * lanes = `concurrency`. With ordering 'module' a record goes to builder/lane
 * hash(module) % lanes, and a lane runs one batch at a time, retries included: each module's
 * records are handled in log order (strict log order overall when concurrency is 1).
 */
import type { CommittedGroup } from '@module-ingest/log'
import { type Logger, sleep } from '@module-ingest/subscriber-sdk'
import fastq from 'fastq'
import { Batch } from './batch.ts'
import type { ResolvedSubscriberConfig } from './config.ts'

interface Lane {
  queue: fastq.queueAsPromised<Batch, void>
  /** Running + queued batches. */
  load: number
}

const kLaneDepth = 2
const kPollMs = 1000

function fnv1a(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}

export interface LanesOptions {
  cfg: ResolvedSubscriberConfig
  logger: Logger
  deliver(batch: Batch): Promise<void>
  /** A lane finished a batch. */
  poke(): void
  /** Until poked or `ms` passed. */
  idle(ms: number): Promise<void>
  /** Aborted on close: dispatch() stops waiting and drops the batch. */
  stop: AbortSignal
  /** The rate limit (pace.ts): ms to wait before a batch of `bytes` is handed over. */
  pace?: (bytes: number) => number
}

export class Lanes {
  readonly #o: LanesOptions
  readonly #lanes: Lane[]
  readonly builders: (Batch | null)[]
  /** module → builder index, for ordering 'module' over several lanes (strings repeat). */
  readonly #shard = new Map<string, number>()

  constructor(o: LanesOptions) {
    this.#o = o
    const lanes = o.cfg.concurrency
    this.#lanes = Array.from({ length: lanes }, () => {
      const lane: Lane = {
        load: 0,
        queue: fastq.promise<unknown, Batch, void>(async (batch: Batch) => {
          try {
            await o.deliver(batch)
          } finally {
            lane.load--
            o.poke()
          }
        }, 1),
      }
      return lane
    })
    this.builders = Array.from({ length: o.cfg.ordering === 'module' ? lanes : 1 }, () => null)
  }

  /** Per append of `g`, its builder index (call once per group, not per record). */
  buildersOf(g: CommittedGroup): number[] | undefined {
    return this.builders.length > 1 ? g.batches.map((b) => this.#shardOf(b.module)) : undefined
  }

  /** Record `i` of `g` into builder `idx`; returns its batch (the record's offset owner). */
  add(idx: number, g: CommittedGroup, i: number): Batch {
    let b = this.builders[idx]
    if (b == null) {
      b = new Batch()
      this.builders[idx] = b
    }
    b.add(g, i)
    return b
  }

  #shardOf(module: string): number {
    let idx = this.#shard.get(module)
    if (idx === undefined) {
      idx = fnv1a(module) % this.builders.length
      if (this.#shard.size > 10_000) this.#shard.clear()
      this.#shard.set(module, idx)
    }
    return idx
  }

  /** Running and queued batches, for stats(). */
  counts(): { running: number; queued: number } {
    let running = 0
    let queued = 0
    for (const lane of this.#lanes) {
      running += lane.queue.running()
      queued += lane.queue.length()
    }
    return { running, queued }
  }

  /** Some lane holds a batch. */
  busy(): boolean {
    return this.#lanes.some((l) => l.load > 0)
  }

  /**
   * Time until the oldest partial batch is due, capped by the poll interval. A due batch whose
   * lane has no room waits for the lane (a finished batch pokes the dispatcher), not for a timer.
   */
  nextDeadline(): number {
    let ms = kPollMs
    const now = Date.now()
    for (let i = 0; i < this.builders.length; i++) {
      const b = this.builders[i]
      if (b && this.#hasRoom(i))
        ms = Math.min(ms, Math.max(1, b.openedAt + this.#o.cfg.batch.maxWaitMs - now))
    }
    return ms
  }

  /**
   * Hand over the partial batches that are due. One whose lane has no room keeps filling
   * instead: it could not start before a batch ahead of it finishes anyway, and closing it at
   * maxWaitMs made it hold only what the dispatcher read meanwhile (with a backlog of 100k+
   * records, a kv subscriber's deliveries averaged 8.5k of a 20k ceiling; docs/kv.md). It goes
   * when the lane has room (or when full, as any batch).
   */
  async flushDue(): Promise<void> {
    const now = Date.now()
    for (let i = 0; i < this.builders.length; i++) {
      const b = this.builders[i]
      if (b && now - b.openedAt >= this.#o.cfg.batch.maxWaitMs && this.#hasRoom(i)) await this.dispatch(i)
    }
  }

  /** Whether builder `idx`'s batch would be queued at once (dispatch() would not wait). */
  #hasRoom(idx: number): boolean {
    return this.#o.cfg.ordering === 'module'
      ? this.#lanes[idx]!.load < kLaneDepth
      : this.#lanes.some((l) => l.load < kLaneDepth)
  }

  async flushAll(): Promise<void> {
    for (let i = 0; i < this.builders.length; i++) if (this.builders[i]) await this.dispatch(i)
  }

  /** Hand builder `idx`'s batch to its lane, waiting while that lane is full. */
  async dispatch(idx: number): Promise<void> {
    const batch = this.builders[idx]
    if (!batch) return
    this.builders[idx] = null
    const pick = () =>
      this.#o.cfg.ordering === 'module'
        ? this.#lanes[idx]!
        : this.#lanes.reduce((a, b) => (b.load < a.load ? b : a))
    let lane = pick()
    while (lane.load >= kLaneDepth && !this.#o.stop.aborted) {
      await this.#o.idle(kPollMs)
      lane = pick()
    }
    // The rate limit: the wait holds this batch and, as the read loop awaits this call, further
    // reading too. Taken once the lane has room, so the lane's own wait is not charged twice.
    const waitMs = this.#o.pace?.(batch.bytes) ?? 0
    if (waitMs > 0 && !this.#o.stop.aborted) await sleep(waitMs, this.#o.stop)
    // On close the batch is dropped: it stays uncommitted and is redelivered after a restart.
    if (this.#o.stop.aborted) return
    lane.load++
    lane.queue.push(batch).catch((err) => {
      this.#o.logger.error({ subscriber: this.#o.cfg.name, err }, 'SubscriberDeliverError')
    })
  }
}
