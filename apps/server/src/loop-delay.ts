/**
 * How long this thread's event loop makes ready work wait: a timer due every `everyMs` records
 * how late it fired, in µs, into `mi_<thread>_loop_delay_us`. It is what an HTTP request or a
 * socket read waits before its callback runs, so a read API's latency can be told apart from
 * the time its handler spends (perf_hooks.monitorEventLoopDelay measures the same thing, but in a
 * histogram of its own that the metrics windows of `top`, the dashboard and the benchmarks cannot
 * read per interval).
 */
import type { Metrics } from '@module-ingest/telemetry'

export function probeLoopDelay(metrics: Metrics, thread: string, everyMs = 10): () => void {
  const h = metrics.histogram(
    `mi_${thread}_loop_delay_us`,
    `How late a timer due every ${everyMs} ms fired on the ${thread} thread (event-loop delay)`,
    { unit: 'us' },
  )
  let due = performance.now() + everyMs
  const timer = setInterval(() => {
    const now = performance.now()
    h.record((now - due) * 1000)
    due = now + everyMs
  }, everyMs)
  timer.unref()
  return () => clearInterval(timer)
}
