/**
 * The wait before a batch is delivered again after a `*_UNAVAILABLE` outcome.
 *
 * By default the runtime paces the retries itself: `backoffMs`, exponential over consecutive
 * failures with jitter, up to backoff.maxMs (30 s). That is right for a plugin that fails fast
 * (a refused connection), and wrong for one that already waited inside handle() while probing
 * its downstream: the two waits stack, and a store that came back during the runtime's sleep
 * sits idle for up to maxMs. Such a plugin says so with `retryAfterMs` on its error (kept across
 * the thread boundary by @module-ingest/errors' wire shape): the runtime then waits that long,
 * never longer than its own backoff, and never so little that two attempts start closer than
 * `floorMs` (backoff.initialMs) — a plugin claiming 0 on every instant failure cannot make a tight
 * loop.
 */
export function unavailableWaitMs(
  error: object,
  backoffMs: number,
  attemptMs: number,
  floorMs: number,
): number {
  const hint = (error as { retryAfterMs?: unknown }).retryAfterMs
  if (typeof hint !== 'number' || !(hint >= 0)) return backoffMs
  return Math.round(Math.min(backoffMs, Math.max(hint, floorMs - attemptMs)))
}
