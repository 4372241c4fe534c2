// Failure handling (ENOSPC, EIO): the writer's state machine open → unavailable → open | closed.
// On failure everything not yet durable is discarded (the owner's `discard`), appends throw
// MI_ERR_LOG_UNAVAILABLE, onError fires, and a probe (write + fdatasync at the durable end) runs
// every retryIntervalMs until it succeeds; then onResume fires. See "Failure" in index.ts.
//
// `epoch` is bumped on every failure and on close: an async step begun in an older epoch drops its
// result, because the fds it captured may already be closed and reused.
import { MI_ERR_LOG_CLOSED, MI_ERR_LOG_UNAVAILABLE } from './errors.ts'

export type WriterState = 'open' | 'unavailable' | 'closed'

export interface FailureHooks {
  /** Drop what is not durable; `e` is the error to reject waiters with. */
  discard(e: Error): void
  /** Wait for in-flight I/O, then prove the disk takes writes again (throws if not). */
  probe(): Promise<void>
  /** The probe succeeded and the state is open again. */
  resumed(): void
}

export class Lifecycle {
  state: WriterState = 'open'
  epoch = 0
  lastError: Error | undefined
  readonly errorCbs = new Set<(err: Error) => void>()
  #retryIntervalMs: number
  #hooks: FailureHooks
  #retryTimer: NodeJS.Timeout | undefined
  #retrying: Promise<boolean> | undefined

  constructor(retryIntervalMs: number, hooks: FailureHooks) {
    this.#retryIntervalMs = retryIntervalMs
    this.#hooks = hooks
  }

  get retrying(): boolean {
    return this.#retrying !== undefined
  }

  /** The error an append or sync() gets when the writer is not open. */
  stateError(): Error {
    if (this.state === 'closed') return new MI_ERR_LOG_CLOSED('log')
    return new MI_ERR_LOG_UNAVAILABLE(this.lastError?.message ?? 'unknown', { cause: this.lastError })
  }

  fail(err: Error): void {
    if (this.state !== 'open') return
    this.state = 'unavailable'
    this.epoch++
    this.lastError = err
    // The engine answers the affected sessions OVERLOADED and clients resend from HELLO_OK's seq,
    // so lsns and high-water marks fall back to their durable values.
    const e = new MI_ERR_LOG_UNAVAILABLE(err.message, { cause: err })
    this.#hooks.discard(e)
    for (const cb of this.errorCbs) cb(e)
    this.#armRetry()
  }

  #armRetry(): void {
    clearTimeout(this.#retryTimer)
    // Ref'd on purpose: a writer waiting for the disk to come back is live work; close() clears it.
    this.#retryTimer = setTimeout(() => void this.retry(), this.#retryIntervalMs)
  }

  retry(): Promise<boolean> {
    if (this.state === 'open') return Promise.resolve(true)
    if (this.state === 'closed') return Promise.resolve(false)
    this.#retrying ??= this.#doRetry().finally(() => {
      this.#retrying = undefined
    })
    return this.#retrying
  }

  async #doRetry(): Promise<boolean> {
    try {
      await this.#hooks.probe()
    } catch (err) {
      this.lastError = err as Error
      if (this.state === 'unavailable') this.#armRetry()
      return false
    }
    if (this.state !== 'unavailable') return false
    this.state = 'open'
    this.lastError = undefined
    clearTimeout(this.#retryTimer)
    this.#hooks.resumed()
    return true
  }

  /** Closed for good (close() or the crash hook): in-flight async steps drop their results. */
  close(): void {
    this.state = 'closed'
    this.epoch++
    clearTimeout(this.#retryTimer)
  }
}
