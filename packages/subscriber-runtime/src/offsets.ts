/**
 * Contiguous commit point over out-of-order completions.
 *
 * Records enter in log order as runs: a run is consecutive scanned LSNs owned by one batch, or
 * skipped (filtered out: done at once). Batches complete in any order (concurrency > 1); the
 * commit point is the first LSN of the oldest run not done, or one past everything scanned.
 *
 *   runs:  [1..4 b1 done] [5..5 skip] [6..9 b2 pending] [10..12 b3 done]
 *   nextLsn() = 6 — b3 is done but waits behind b2 (at-least-once: a crash redelivers b3 too)
 */
export interface Owner {
  done: boolean
}

interface Run {
  firstLsn: number
  owner: Owner | null // null: skipped records
}

const kSkipped: Owner = { done: true }

export class OffsetTracker {
  #runs: Run[] = []
  #head = 0
  #lastLsn = 0
  #highWater: number

  constructor(startLsn: number) {
    this.#highWater = startLsn
  }

  /** Scanned records lsn..lastLsn: owned by a batch, or `null` when the filter skipped them. */
  add(lsn: number, owner: Owner | null, lastLsn = lsn): void {
    const o = owner ?? kSkipped
    const tail = this.#runs.length > this.#head ? this.#runs[this.#runs.length - 1] : undefined
    if (tail === undefined || tail.owner !== o || lsn !== this.#lastLsn + 1) {
      this.#runs.push({ firstLsn: lsn, owner: o })
    }
    this.#lastLsn = lastLsn
    if (lastLsn + 1 > this.#highWater) this.#highWater = lastLsn + 1
  }

  /** The cursor is caught up: everything below `nextLsn` has been scanned. */
  caughtUp(nextLsn: number): void {
    if (nextLsn > this.#highWater) this.#highWater = nextLsn
  }

  /** The commit point: every scanned record below it is done. */
  nextLsn(): number {
    while (this.#head < this.#runs.length && this.#runs[this.#head]!.owner!.done) this.#head++
    if (this.#head > 1024 && this.#head * 2 > this.#runs.length) {
      this.#runs = this.#runs.slice(this.#head)
      this.#head = 0
    }
    const run = this.#runs[this.#head]
    return run === undefined ? this.#highWater : run.firstLsn
  }

  /** Highest LSN scanned plus one (or the start). */
  scannedLsn(): number {
    return this.#highWater
  }
}
