import { MI_ERR_AUTH_OPTION_INVALID } from './errors.ts'

export interface TokenBucketOptions {
  /** Sustained rate, units per second. */
  ratePerSec: number
  /** Bucket size in units (how much may pass at once after a quiet spell). Default `ratePerSec` (1 s). */
  burst?: number
  now?: () => number
}

/**
 * Token bucket that never refuses: `take` always consumes (the bytes are already read) and returns
 * how long the caller should pause before reading more, i.e. until the balance is back to zero.
 * The engine enforces it with TCP backpressure (`socket.pause()` for that long), per MIP/1.
 */
export class TokenBucket {
  readonly #rate: number
  readonly #burst: number
  readonly #now: () => number
  #tokens: number
  #last: number

  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerSec > 0)) throw new MI_ERR_AUTH_OPTION_INVALID('ratePerSec', 'expected a number > 0')
    this.#rate = options.ratePerSec
    this.#burst = options.burst ?? options.ratePerSec
    if (!(this.#burst > 0)) throw new MI_ERR_AUTH_OPTION_INVALID('burst', 'expected a number > 0')
    this.#now = options.now ?? Date.now
    this.#tokens = this.#burst
    this.#last = this.#now()
  }

  /** Consume `amount`; returns 0 to go on, or the milliseconds to pause. */
  take(amount: number): number {
    this.#refill()
    this.#tokens -= amount
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens / this.#rate) * 1000)
  }

  /** Current balance (negative while in debt). */
  get tokens(): number {
    this.#refill()
    return this.#tokens
  }

  #refill(): void {
    const now = this.#now()
    const elapsedMs = now - this.#last
    this.#last = now
    if (elapsedMs > 0) this.#tokens = Math.min(this.#burst, this.#tokens + (elapsedMs / 1000) * this.#rate)
  }
}

export interface RateLimits {
  bytesPerSec?: number
  msgsPerSec?: number
  /** Burst as seconds of the rate. Default 1. */
  burstSeconds?: number
}

export interface RateLimiterOptions {
  perModule?: RateLimits
  perAddress?: RateLimits
  /** Modules and addresses tracked at most each; the least recently used is forgotten. Default 10 000. */
  maxKeys?: number
  now?: () => number
}

interface Buckets {
  bytes: TokenBucket | undefined
  msgs: TokenBucket | undefined
}

class BucketMap {
  readonly #limits: RateLimits | undefined
  readonly #max: number
  readonly #now: () => number
  readonly #map = new Map<string, Buckets>()
  constructor(limits: RateLimits | undefined, max: number, now: () => number) {
    this.#limits = limits
    this.#max = max
    this.#now = now
  }
  take(key: string, bytes: number, msgs: number): number {
    const limits = this.#limits
    if (limits === undefined || (limits.bytesPerSec === undefined && limits.msgsPerSec === undefined))
      return 0
    let b = this.#map.get(key)
    if (b === undefined) {
      const burst = limits.burstSeconds ?? 1
      const make = (rate: number | undefined) =>
        rate === undefined
          ? undefined
          : new TokenBucket({ ratePerSec: rate, burst: rate * burst, now: this.#now })
      b = { bytes: make(limits.bytesPerSec), msgs: make(limits.msgsPerSec) }
    } else {
      this.#map.delete(key)
    }
    this.#map.set(key, b)
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as string)
    return Math.max(b.bytes?.take(bytes) ?? 0, b.msgs?.take(msgs) ?? 0)
  }
  forget(key: string): void {
    this.#map.delete(key)
  }
  get size(): number {
    return this.#map.size
  }
}

/** Per-module and per-address bytes/s and msgs/s; `take` returns the longest pause any limit asks for. */
export class RateLimiter {
  readonly #modules: BucketMap
  readonly #addresses: BucketMap

  constructor(options: RateLimiterOptions = {}) {
    const max = options.maxKeys ?? 10_000
    const now = options.now ?? Date.now
    this.#modules = new BucketMap(options.perModule, max, now)
    this.#addresses = new BucketMap(options.perAddress, max, now)
  }

  take(usage: { module?: string; address?: string; bytes: number; msgs: number }): number {
    const m = usage.module === undefined ? 0 : this.#modules.take(usage.module, usage.bytes, usage.msgs)
    const a = usage.address === undefined ? 0 : this.#addresses.take(usage.address, usage.bytes, usage.msgs)
    return Math.max(m, a)
  }

  forget(key: { module?: string; address?: string }): void {
    if (key.module !== undefined) this.#modules.forget(key.module)
    if (key.address !== undefined) this.#addresses.forget(key.address)
  }

  get size(): { modules: number; addresses: number } {
    return { modules: this.#modules.size, addresses: this.#addresses.size }
  }
}
