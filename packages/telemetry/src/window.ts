import { type HdrHistogram, type HistogramStats, newHdr, statsOf } from './histogram.ts'
import type { HistogramUnit } from './metrics.ts'

/*
 * Per-interval histograms ("what happened in the last second") next to the cumulative ones that
 * /metrics exports.
 *
 * A window does not reset anything. It keeps, per histogram, the cumulative totals it saw at its
 * previous read; a read takes the totals now (own registry + the latest snapshot of every worker)
 * and returns the difference. We chose this over interval histograms that are reset on read:
 *
 * - several readers sample at their own pace (the dashboard once a second, each `top`, a test);
 *   a reset would hand each one only the part of an interval the others had not taken. Each
 *   window has its own baseline instead, so every reader sees every recorded value exactly once;
 * - the values live in worker threads and arrive as cumulative snapshots (the ones /metrics sums).
 *   The difference of two snapshots is exact whichever thread recorded a value and however late
 *   its snapshot arrived: a value recorded after a worker's snapshot lands in the next interval,
 *   never in none or in two. Reading right after pulling every worker's snapshot at once
 *   (engine stats()) makes the interval line up across threads;
 * - the workers' hot paths stay as they are: one record() per value, no second histogram.
 *
 * Totals never go backwards (a restarted worker's last snapshot is folded into the registry
 * first), so the difference is a histogram of non-negative counts.
 */

/** The cumulative state of one histogram, as a window reads it; the window keeps `hdr`. */
export interface HistogramTotal {
  name: string
  unit: HistogramUnit
  hdr: HdrHistogram
  sum: number
}

export interface WindowRead {
  /** Seconds covered: since the window's previous read (or since it was created). */
  seconds: number
  /** What each histogram recorded in those seconds; percentiles are 0 when `count` is 0. */
  histograms: Array<{ name: string; unit: HistogramUnit } & HistogramStats>
}

export class HistogramWindow {
  readonly #totals: () => HistogramTotal[]
  #prev: Map<string, HistogramTotal>
  #at = performance.now()

  /**
   * `totals` returns every histogram's cumulative state, in histograms nobody else changes. The
   * window starts now: its first read returns what was recorded after this.
   */
  constructor(totals: () => HistogramTotal[]) {
    this.#totals = totals
    this.#prev = new Map(totals().map((t) => [t.name, t]))
  }

  /** What was recorded since the previous read; the next read starts from here. */
  read(): WindowRead {
    const now = performance.now()
    const out: WindowRead = { seconds: (now - this.#at) / 1000, histograms: [] }
    const next = new Map<string, HistogramTotal>()
    for (const t of this.#totals()) {
      const prev = this.#prev.get(t.name)
      if (prev && prev.hdr.totalCount > t.hdr.totalCount) {
        // Totals below the baseline: an older snapshot than one already read (the engine merges
        // pulls in order, so this should not happen). Keep the newer baseline, report nothing
        // now; the next read counts from the baseline, so nothing is counted twice.
        next.set(t.name, prev)
        out.histograms.push({ name: t.name, unit: t.unit, ...statsOf(newHdr(), 0) })
        continue
      }
      next.set(t.name, t)
      // A histogram registered since the previous read has no baseline: all of it is new.
      let diff = t.hdr
      if (prev) {
        diff = newHdr()
        diff.add(t.hdr)
        diff.subtract(prev.hdr)
      }
      out.histograms.push({ name: t.name, unit: t.unit, ...statsOf(diff, t.sum - (prev?.sum ?? 0)) })
    }
    this.#prev = next
    this.#at = now
    return out
  }
}
