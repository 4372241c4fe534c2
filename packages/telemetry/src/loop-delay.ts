/**
 * How long a thread's event loop makes ready work wait: a timer records how late it fired, in µs,
 * into `mi_<thread>_loop_delay_us`. It is what an HTTP request or a socket read waits before its
 * callback runs, so a read API's latency can be told apart from the time its handler spends
 * (perf_hooks.monitorEventLoopDelay measures the same thing, but in a histogram of its own that
 * the metrics windows of `top`, the dashboard and the benchmarks cannot read per interval).
 *
 * The timer is due every `everyMs` (10) while the loop works, and every `idleEveryMs` (100) once
 * it was idle since the last sample (event-loop utilization below 2%): an idle loop delays no
 * timer, and waking it 100 times a second to record ~0 cost an idle server ~1% of a core per
 * probed thread. The first sample after work starts again comes at most `idleEveryMs` later.
 * One helper for every thread that has the metric (the server's main and reads threads, the
 * subscriber runtime's); it imports nothing at run time, so a thread without a registry (the
 * runtime's, whose metric calls cross to the host) can use it.
 */
import type { Metrics } from './metrics.ts'

export interface LoopDelayProbeOptions {
  /** Sampling period while the loop works (ms). Default 10. */
  everyMs?: number
  /** Sampling period while it is idle (ms). Default 100. */
  idleEveryMs?: number
}

/** Below this event-loop utilization since the last sample, the loop counts as idle. */
const kIdleUtilization = 0.02

/** Name and help of a thread's loop-delay histogram (unit µs), the same for every thread. */
export function loopDelayMetric(thread: string, everyMs = 10): { name: string; help: string } {
  return {
    name: `mi_${thread}_loop_delay_us`,
    help: `How late a timer due every ${everyMs} ms (while busy) fired on the ${thread} thread (event-loop delay)`,
  }
}

/** Start probing this thread's event loop: `record(µs)` per sample. Returns a stop function. */
export function probeLoopDelay(record: (us: number) => void, opts: LoopDelayProbeOptions = {}): () => void {
  const every = opts.everyMs ?? 10
  const idleEvery = opts.idleEveryMs ?? 100
  let elu = performance.eventLoopUtilization()
  let due = performance.now() + every
  let stopped = false
  let timer: ReturnType<typeof setTimeout>
  const arm = (ms: number) => {
    timer = setTimeout(sample, ms)
    timer.unref()
  }
  const sample = () => {
    if (stopped) return
    const now = performance.now()
    record(Math.max(0, (now - due) * 1000))
    const next = performance.eventLoopUtilization()
    const busy = performance.eventLoopUtilization(next, elu).utilization >= kIdleUtilization
    elu = next
    const ms = busy ? every : idleEvery
    due = now + ms
    arm(ms)
  }
  arm(every)
  return () => {
    stopped = true
    clearTimeout(timer)
  }
}

/** Probe this thread into `metrics` as `mi_<thread>_loop_delay_us`. Returns a stop function. */
export function probeLoopDelayInto(
  metrics: Metrics,
  thread: string,
  opts: LoopDelayProbeOptions = {},
): () => void {
  const { name, help } = loopDelayMetric(thread, opts.everyMs)
  const h = metrics.histogram(name, help, { unit: 'us' })
  return probeLoopDelay((us) => h.record(us), opts)
}
