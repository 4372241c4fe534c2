import { addressKeys } from './address.ts'
import { MI_ERR_AUTH_OPTION_INVALID } from './errors.ts'

export interface FailureThrottleOptions {
  /** Failed handshakes allowed per address (IPv4) or /64 (IPv6) per window. Default 20 (MIP/1 floor). */
  maxFailures?: number
  /** Default 60 000. */
  windowMs?: number
  /**
   * Failed handshakes allowed per IPv4 /24 or IPv6 /48 per window. Default 600 (30 addresses at
   * the per-address limit). `Infinity` disables the network limit. Approximate (sliding-window
   * counter), unlike the exact per-address log.
   */
  networkMaxFailures?: number
  /** Addresses (and, separately, networks) tracked at most; the least recently failing is forgotten. Default 10 000. */
  maxTracked?: number
  now?: () => number
}

/** Exact sliding log of the last `max` failure times of one address. */
class FailureLog {
  readonly times: Float64Array
  head = 0
  count = 0
  constructor(max: number) {
    this.times = new Float64Array(max)
  }
  add(now: number): void {
    this.times[this.head] = now
    this.head = (this.head + 1) % this.times.length
    if (this.count < this.times.length) this.count++
  }
  /** Time the oldest of the last `max` failures happened, when `max` are recorded. */
  oldest(): number | undefined {
    return this.count < this.times.length ? undefined : this.times[this.head]
  }
  newest(): number {
    return this.times[(this.head - 1 + this.times.length) % this.times.length]!
  }
}

/** Two fixed windows blended by overlap: 2 numbers per network instead of a log. */
class WindowCounter {
  start: number
  current = 0
  previous = 0
  constructor(start: number) {
    this.start = start
  }
  roll(now: number, windowMs: number): void {
    const elapsed = now - this.start
    if (elapsed < windowMs) return
    this.previous = elapsed < 2 * windowMs ? this.current : 0
    this.current = 0
    this.start += Math.floor(elapsed / windowMs) * windowMs
  }
  estimate(now: number, windowMs: number): number {
    this.roll(now, windowMs)
    return this.previous * (1 - (now - this.start) / windowMs) + this.current
  }
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1)
    throw new MI_ERR_AUTH_OPTION_INVALID(name, 'expected a positive integer')
  return value
}

/**
 * Failed-handshake throttle for the main thread. Per address: at most `maxFailures` failures in
 * any `windowMs` (exact); the next handshake from that address is refused with RATE_LIMITED until
 * the oldest of them ages out. Per network: a coarser approximate cap. Successes forgive the
 * address (not the network), so a device fixed after a misconfiguration is not kept out.
 */
export class FailureThrottle {
  readonly #max: number
  readonly #windowMs: number
  readonly #networkMax: number
  readonly #maxTracked: number
  readonly #now: () => number
  readonly #hosts = new Map<string, FailureLog>()
  readonly #networks = new Map<string, WindowCounter>()

  constructor(options: FailureThrottleOptions = {}) {
    this.#max = positiveInt(options.maxFailures ?? 20, 'maxFailures')
    this.#windowMs = positiveInt(options.windowMs ?? 60_000, 'windowMs')
    this.#networkMax = options.networkMaxFailures ?? 600
    if (!(this.#networkMax >= 1))
      throw new MI_ERR_AUTH_OPTION_INVALID('networkMaxFailures', 'expected ≥ 1 or Infinity')
    this.#maxTracked = positiveInt(options.maxTracked ?? 10_000, 'maxTracked')
    this.#now = options.now ?? Date.now
  }

  /** True when a handshake from `address` must be refused now (RATE_LIMITED). */
  check(address: string | undefined): boolean {
    return this.retryAfterMs(address) > 0
  }

  /** 0 when allowed, else how long until the next handshake from `address` would be. */
  retryAfterMs(address: string | undefined): number {
    const now = this.#now()
    const keys = addressKeys(address)
    let wait = 0
    const log = this.#hosts.get(keys.host)
    const oldest = log?.oldest()
    if (oldest !== undefined && oldest > now - this.#windowMs) wait = oldest + this.#windowMs - now
    if (this.#networkMax !== Number.POSITIVE_INFINITY) {
      const counter = this.#networks.get(keys.network)
      if (counter !== undefined && counter.estimate(now, this.#windowMs) >= this.#networkMax) {
        wait = Math.max(wait, counter.start + this.#windowMs - now)
      }
    }
    return wait
  }

  /** Record a failed handshake (bad secret, unknown module, timeout before HELLO_OK…). */
  fail(address: string | undefined): void {
    const now = this.#now()
    const keys = addressKeys(address)
    let log = this.#hosts.get(keys.host)
    if (log === undefined) log = new FailureLog(this.#max)
    else this.#hosts.delete(keys.host) // re-insert: Map order is then least-recently-failed first
    log.add(now)
    this.#hosts.set(keys.host, log)
    this.#evict(this.#hosts, now)
    if (this.#networkMax !== Number.POSITIVE_INFINITY) {
      let counter = this.#networks.get(keys.network)
      if (counter === undefined) counter = new WindowCounter(now)
      else this.#networks.delete(keys.network)
      counter.roll(now, this.#windowMs)
      counter.current++
      this.#networks.set(keys.network, counter)
      this.#evict(this.#networks, now)
    }
  }

  /** A successful handshake forgives the address's failures (the network count stays). */
  succeed(address: string | undefined): void {
    this.#hosts.delete(addressKeys(address).host)
  }

  /** Tracked addresses and networks (for metrics and the memory-bound test). */
  get size(): { addresses: number; networks: number } {
    return { addresses: this.#hosts.size, networks: this.#networks.size }
  }

  #evict(map: Map<string, unknown>, _now: number): void {
    while (map.size > this.#maxTracked) {
      const first = map.keys().next().value as string
      map.delete(first)
    }
  }
}
