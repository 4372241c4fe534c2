import { recordToJson, type SubscriberRecord } from '@module-ingest/subscriber-sdk'

/**
 * A dead letter in the runtime's format (one record per original record, on `dlq.<instance>`),
 * written by the plugin itself for records it can never process: bodies that do not fit the
 * mapping (when `onBadRecord: 'dead-letter'`) and rows the inference server refused.
 */
export function deadLetter(
  subscriber: string,
  error: { code: string; message: string },
  attempt: number,
  r: SubscriberRecord,
): string {
  return JSON.stringify({
    subscriber,
    group: `sub.${subscriber}`,
    error,
    attempts: attempt,
    failedAtUs: Date.now() * 1000,
    record: recordToJson(r, 'base64'),
  })
}

/** At most one warning per interval; the ones in between are counted into the next. */
export class RateLimitedWarning {
  readonly #intervalMs: number
  #lastMs = Number.NEGATIVE_INFINITY
  #suppressed = 0

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs
  }

  /** Returns the number suppressed since the last warning when this one should be logged. */
  take(nowMs = performance.now()): number | undefined {
    if (nowMs - this.#lastMs < this.#intervalMs) {
      this.#suppressed++
      return undefined
    }
    this.#lastMs = nowMs
    const n = this.#suppressed
    this.#suppressed = 0
    return n
  }
}
