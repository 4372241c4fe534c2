/**
 * How a dispatcher waits: for a poke (a lane or an emit finished, resume, close), a timer, or —
 * when caught up — durable data worth a read. One set of resolvers; close() pokes them all.
 */
import type { BatchOptions, LogPosition } from './config.ts'
import type { LogCursor, LogReader } from './log-types.ts'
import type { DurableSignal } from './types.ts'

export class Wakeups {
  readonly #waiters = new Set<() => void>()
  readonly #cursor: () => LogCursor
  readonly #reader: LogReader
  readonly #durableSignal: DurableSignal | undefined

  constructor(cursor: () => LogCursor, reader: LogReader, durableSignal: DurableSignal | undefined) {
    this.#cursor = cursor
    this.#reader = reader
    this.#durableSignal = durableSignal
  }

  poke(): void {
    for (const w of this.#waiters) w()
    this.#waiters.clear()
  }

  /**
   * Until poked or `ms` passed, or — with `want` > 0 — until at least `want` records past the
   * cursor are durable (see wantRecords). No AbortSignal.any here: it ran once per batch, and
   * composite signals hanging off the dispatcher's long-lived stop signal cost more CPU than the
   * batch's encoding in profiles.
   */
  async idle(ms: number, want = 0): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>()
    this.#waiters.add(resolve)
    const timer = setTimeout(resolve, ms)
    let ac: AbortController | undefined
    let unsubscribe: (() => void) | undefined
    const enough = (durableLsn: number) => durableLsn + 1 - this.#cursor().nextLsn >= want
    if (want > 0 && this.#durableSignal) {
      // The host's signal carries the watermark: wake only when a read is worth it.
      unsubscribe = this.#durableSignal((lsn) => {
        if (enough(lsn)) resolve()
      })
      if (enough(this.#reader.durableLsn())) resolve()
    } else if (want > 0) {
      // The reader's own wake-ups (file watch, the writer's SAB, a poll): check on each.
      ac = new AbortController()
      const signal = ac.signal
      const until = Date.now() + ms
      void (async () => {
        while (!signal.aborted && Date.now() < until) {
          const more = await Promise.resolve(
            this.#cursor().waitForData({ signal, timeoutMs: Math.max(1, until - Date.now()) }),
          ).catch(() => false)
          if (!more) return
          if (enough(this.#reader.durableLsn())) return resolve()
          // Not enough yet: don't spin on a watermark that moves by a few records at a time.
          await new Promise((r) => setTimeout(r, 5))
        }
      })()
    }
    try {
      await promise
    } finally {
      clearTimeout(timer)
      ac?.abort()
      unsubscribe?.()
      this.#waiters.delete(resolve)
    }
  }
}

/**
 * Durable records worth waking up for. With no batch open: any. With one open: enough to fill it
 * (by records, or by bytes at its average record size), since reading less only to wait for its
 * maxWaitMs again costs a wake-up and a read per group commit (~5 per batch at 20k records/s,
 * where one suffices). Skipped records count too, so this only ever wakes early.
 */
export function wantRecords(
  builders: readonly ({ count: number; bytes: number } | null)[],
  cfg: { batch: BatchOptions; until: LogPosition | undefined },
  cursorNextLsn: number,
): number {
  const { maxRecords, maxBytes } = cfg.batch
  let want = Number.POSITIVE_INFINITY
  for (const b of builders) {
    if (b === null || b.count === 0) continue
    const perRecord = Math.max(1, b.bytes / b.count)
    want = Math.min(want, maxRecords - b.count, Math.ceil((maxBytes - b.bytes) / perRecord))
  }
  if (want === Number.POSITIVE_INFINITY) return 1
  const untilLsn = cfg.until?.lsn
  if (untilLsn !== undefined) want = Math.min(want, untilLsn + 1 - cursorNextLsn)
  return Math.max(1, want)
}
