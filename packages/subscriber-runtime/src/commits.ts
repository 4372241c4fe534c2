/**
 * The offsets of one dispatcher: where reading starts (the group's stored offset, or `from`), the
 * tracker of done batches, and the commits of its contiguous done point (every N batches, every
 * T ms, at finish and close). A job of its own, apart from dispatcher.ts: the read loop only feeds
 * the tracker, the lifecycle only asks for a commit; nothing else touches the commit state.
 */
import type { DispatcherOptions } from './dispatcher.ts'
import { OffsetTracker } from './offsets.ts'

export class Commits {
  readonly #o: DispatcherOptions
  readonly #noteError: (err: Error) => void
  /** Set by open(); stats() and close() before start see none. */
  tracker!: OffsetTracker
  #committed = 1
  #batchesSinceCommit = 0
  /** When the last commit was queued (Date.now()): count-triggered commits keep a gap after it. */
  #lastCommitAt = 0
  /** A commit is queued behind the running one and has not read the done point yet. */
  #commitQueued = false
  #commitChain: Promise<void> = Promise.resolve()
  #commitTimer: NodeJS.Timeout | undefined

  constructor(o: DispatcherOptions, noteError: (err: Error) => void) {
    this.#o = o
    this.#noteError = noteError
  }

  get name(): string {
    return this.#o.cfg.name
  }

  /** The last committed offset: the next LSN a restart reads. */
  get committed(): number {
    return this.#committed
  }

  /** Where the cursor starts; the tracker starts there too. */
  async open(): Promise<{ fromLsn?: number; fromTimeUs?: number }> {
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
    this.tracker = new OffsetTracker(this.#committed)
    return cursorOpts
  }

  startTimer(): void {
    this.#commitTimer = setInterval(() => this.commit(), this.#o.commitIntervalMs)
    this.#commitTimer.unref()
  }

  stopTimer(): void {
    clearInterval(this.#commitTimer)
  }

  /** A batch is done (its counters are counted): maybe commit. */
  batchDone(): void {
    // Every commitEveryBatches batches, but at most 10 per commitIntervalMs: a commit is a file
    // write and two fsyncs, and small batches (64 records at 100k records/s) would otherwise
    // commit ~100 times a second, on the disk the log's own fsyncs wait for. The commit timer
    // still covers what the gap holds back; redelivery after a crash stays bounded.
    if (
      ++this.#batchesSinceCommit >= this.#o.commitEveryBatches &&
      Date.now() - this.#lastCommitAt >= this.#o.commitIntervalMs / 10
    )
      this.commit()
  }

  /**
   * Commit the contiguous done point if it moved. Serialised, and coalesced: while one commit
   * waits for the previous one's fsyncs, further calls join it (it reads the done point when it
   * starts, so it covers them) instead of queueing a file write each. Errors are logged, not thrown.
   */
  commit(): Promise<void> {
    if (this.#o.pool === null || this.tracker === undefined || this.#commitQueued) return this.#commitChain
    this.#commitQueued = true
    this.#batchesSinceCommit = 0
    this.#lastCommitAt = Date.now()
    this.#commitChain = this.#commitChain.then(async () => {
      this.#commitQueued = false
      const next = this.tracker.nextLsn()
      if (next <= this.#committed) return
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
}
