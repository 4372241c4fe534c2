/**
 * The catch-up rate limit (`rateLimit` of an entry, or the plugin's declared default): a token
 * bucket on the record body bytes a subscriber is delivered. The lanes ask it before handing a
 * batch over (lanes.ts dispatch) and wait what it says, so the dispatcher reads no further
 * meanwhile either: the runtime's own read/decode/encode work is paced with the plugin's.
 *
 * Debt, not refusal: a batch takes its bytes at once (a batch larger than the bucket still goes)
 * and waits until the balance is back to zero. Invariant, whatever the batch sizes:
 *   bytes handed over by time t ≤ burstBytes + bytesPerSec · (t − start)
 * (each hand-over happens at a balance ≥ 0 and the balance is burst + refill − taken, capped).
 *
 * `when: 'ingesting'` (the default) charges only while records are arriving: the log's durable
 * end moved within the last second. A backlog on an idle host is caught up at full speed; the
 * limit is for the case it exists for, a catch-up competing with live ingest for the cores.
 */
import { performance } from 'node:perf_hooks'

export interface RateLimit {
  /** Record body bytes per second at most; 0: no limit. */
  bytesPerSec: number
  /** What may go at once after an idle spell (the bucket's size). */
  burstBytes: number
  when: 'ingesting' | 'always'
}

/** How long after the log's end last moved ingest still counts as active. */
export const kIngestIdleMs = 1000

export class Pacer {
  readonly #limit: RateLimit
  readonly #perMs: number
  readonly #ingesting: () => boolean
  readonly #now: () => number
  #tokens: number
  #at: number

  /** `ingesting()` says whether records are arriving; `now` is ms (performance.now by default). */
  constructor(limit: RateLimit, ingesting: () => boolean, now: () => number = () => performance.now()) {
    this.#limit = limit
    this.#perMs = limit.bytesPerSec / 1000
    this.#ingesting = ingesting
    this.#now = now
    this.#tokens = limit.burstBytes
    this.#at = now()
  }

  /** Take `bytes` for a batch about to be handed over; returns the ms to wait first (0: now). */
  take(bytes: number): number {
    const now = this.#now()
    this.#tokens = Math.min(this.#limit.burstBytes, this.#tokens + (now - this.#at) * this.#perMs)
    this.#at = now
    if (this.#limit.when === 'ingesting' && !this.#ingesting()) return 0
    this.#tokens -= bytes
    if (this.#tokens >= 0) return 0
    return Math.ceil(-this.#tokens / this.#perMs)
  }
}

/**
 * Whether ingest is active, from the log's durable end as seen at each call: it moved within
 * kIngestIdleMs. Derived records (this or another subscriber's emits) count as arriving records too.
 */
export function ingestWatch(
  durableLsn: () => number,
  now: () => number = () => performance.now(),
): () => boolean {
  let head = -1
  let movedAt = Number.NEGATIVE_INFINITY
  return () => {
    const t = now()
    const lsn = durableLsn()
    if (lsn !== head) {
      // The first look has nothing to compare with: count it as moved (limit rather than not).
      head = lsn
      movedAt = t
    }
    return t - movedAt < kIngestIdleMs
  }
}
