import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { type LatencySummary, mergeHistograms } from '../histogram.ts'
import { cpuSeconds } from '../procs.ts'
import type { FromChild, LoadPlan, LoadResult, ToChild } from './messages.ts'

/**
 * Runs one load: forks `workers` generator children (worker.ts), splits the connections and the
 * offered rate between them, starts them together on a wall-clock instant, and merges what they
 * measured. Each child is its own process with its own event loop, so one JavaScript thread is
 * never the ceiling; on a small machine they still share the CPUs with the server under test.
 */

export interface LoadSpec extends Omit<LoadPlan, 'connections' | 'firstConnection' | 'ratePerSec'> {
  connections: number
  /** Frames per second offered in total; 0 = closed loop. */
  ratePerSec: number
  /** Generator processes (at most one per connection). */
  workers: number
}

export interface LoadHooks {
  /** Called once every child is connected, before the start instant is chosen. */
  ready?(info: { connected: number; connectMs: number }): void | Promise<void>
  /** Called when the measurement window opens and closes (parent-side timers). */
  measureStart?(): void
  measureEnd?(): void
}

export interface LoadOutcome {
  /** Records (not frames) per second settled inside the measurement window. */
  msgsPerSec: number
  /** Body megabytes (10^6) per second settled inside the window. */
  mbPerSec: number
  latency: LatencySummary
  errors: number
  errorSamples: string[]
  timedOut: number
  connected: number
  connectMs: number
  sentFrames: number
  settledFrames: number
  windowMs: number
  /** CPU seconds (user + system) the generator processes used inside the measurement window. */
  cpuS: number
}

const kWorkerUrl = new URL('./worker.ts', import.meta.url)

/**
 * MI_BENCH_LOAD_NODE_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/p': node flags for the generator
 * children (their profiles are written when they exit after DONE). Split on spaces.
 */
function loadNodeFlags(): string[] {
  return (process.env.MI_BENCH_LOAD_NODE_FLAGS ?? '').split(' ').filter(Boolean)
}

function waitFor(child: ChildProcess, codes: string[], timeoutMs: number, what: string): Promise<FromChild> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup()
      reject(new Error(`load generator: no ${what} within ${timeoutMs} ms`))
    }, timeoutMs)
    const onMessage = (m: FromChild) => {
      if (m.code === 'FAILED') {
        cleanup()
        reject(new Error(`load generator failed: ${m.message}`))
      } else if (codes.includes(m.code)) {
        cleanup()
        resolve(m)
      }
    }
    const onExit = (code: number | null) => {
      cleanup()
      reject(new Error(`load generator exited (code ${code}) before ${what}`))
    }
    const cleanup = () => {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
    }
    child.on('message', onMessage)
    child.on('exit', onExit)
  })
}

export async function runLoad(spec: LoadSpec, hooks: LoadHooks = {}): Promise<LoadOutcome> {
  const n = Math.max(1, Math.min(spec.workers, spec.connections))
  const children: ChildProcess[] = []
  const timers: NodeJS.Timeout[] = []
  try {
    const plans: LoadPlan[] = []
    let first = 0
    for (let i = 0; i < n; i++) {
      const connections = Math.floor(spec.connections / n) + (i < spec.connections % n ? 1 : 0)
      const { workers: _w, ...rest } = spec
      plans.push({
        ...rest,
        connections,
        firstConnection: first,
        ratePerSec: (spec.ratePerSec * connections) / spec.connections,
        maxFrames: spec.maxFrames > 0 ? Math.ceil((spec.maxFrames * connections) / spec.connections) : 0,
      })
      first += connections
    }
    for (const plan of plans) {
      const child = fork(kWorkerUrl, [], {
        execPath: process.execPath,
        execArgv: loadNodeFlags(),
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      })
      children.push(child)
      child.send({ code: 'START', plan } satisfies ToChild)
    }
    const connectTimeoutMs = 30_000 + spec.connections * 20
    const ready = await Promise.all(children.map((c) => waitFor(c, ['READY'], connectTimeoutMs, 'READY')))
    let connected = 0
    let connectMs = 0
    let readyErrors = 0
    const readySamples: string[] = []
    for (const r of ready) {
      if (r.code !== 'READY') continue
      connected += r.connected
      connectMs = Math.max(connectMs, r.connectMs)
      readyErrors += r.errors
      readySamples.push(...r.errorSamples)
    }
    await hooks.ready?.({ connected, connectMs })

    const startAtMs = Date.now() + 100
    const measureFrom = startAtMs + spec.warmupMs
    // The generators' own CPU over the window: on a small machine they compete with the server.
    const cpuNow = () => children.reduce((a, c) => a + (c.pid === undefined ? 0 : cpuSeconds(c.pid)), 0)
    let cpuFrom = Number.NaN
    let cpuTo = Number.NaN
    timers.push(
      setTimeout(() => {
        cpuFrom = cpuNow()
        hooks.measureStart?.()
      }, measureFrom - Date.now()),
    )
    timers.push(
      setTimeout(
        () => {
          cpuTo = cpuNow()
          hooks.measureEnd?.()
        },
        measureFrom + spec.measureMs - Date.now(),
      ),
    )
    const doneTimeoutMs = 100 + spec.warmupMs + spec.measureMs + spec.drainMs + 30_000
    const pending = children.map((c) => waitFor(c, ['DONE'], doneTimeoutMs, 'DONE'))
    for (const c of children) c.send({ code: 'GO', startAtMs } satisfies ToChild)
    const done = await Promise.all(pending)
    const results = done.map((d) => (d as { result: LoadResult }).result)

    const windowMs = Math.max(...results.map((r) => r.windowMs))
    const settledInWindow = results.reduce((a, r) => a + r.settledInWindow, 0)
    const records = settledInWindow * spec.recordsPerFrame
    return {
      msgsPerSec: (records * 1000) / windowMs,
      mbPerSec: (records * spec.bodyBytes * 1000) / windowMs / 1e6,
      latency: mergeHistograms(results.map((r) => r.histogram)),
      errors: readyErrors + results.reduce((a, r) => a + r.errors, 0),
      errorSamples: [...readySamples, ...results.flatMap((r) => r.errorSamples)].slice(0, 5),
      timedOut: results.reduce((a, r) => a + r.timedOut, 0),
      connected,
      connectMs,
      sentFrames: results.reduce((a, r) => a + r.sentTotal, 0),
      settledFrames: results.reduce((a, r) => a + r.settledTotal, 0),
      windowMs,
      cpuS: cpuTo - cpuFrom,
    }
  } finally {
    for (const t of timers) clearTimeout(t)
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGKILL')
        await once(c, 'exit').catch(() => {})
      }
    }
  }
}
