/**
 * Wait `ms`, or less when `signal` aborts: a plugin's backoff that must not hold up shutdown
 * (`ctx.signal`). Never rejects, unlike `timers/promises` setTimeout with a signal, so a loop can
 * `await sleep(ms, ctx.signal)` and then check `ctx.signal.aborted`.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}
