import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream, readdirSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { setPriority } from 'node:os'
import { createInterface } from 'node:readline'

/** A free TCP port on loopback (bind to 0, read it, close). */
export async function freePort(): Promise<number> {
  const srv = createServer()
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const { port } = srv.address() as { port: number }
  await new Promise<void>((r) => srv.close(() => r()))
  return port
}

const live = new Set<ChildProcess>()

/** SIGKILL every server process still running (on exit or interrupt: no strays left behind). */
export function killAll(): void {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  live.clear()
}

export interface Spawned {
  child: ChildProcess
  pid: number
  /** Last lines the process printed (stdout and stderr), for error messages. */
  tail(): string
  /**
   * How the process ended if it ended on its own (not by kill()): `exit code 1`, `signal SIGKILL`;
   * null while it runs or after kill(). A server that vanished mid-row is reported with this.
   */
  died(): string | null
  /** The file every output line goes to (with `logFile`), else null. */
  readonly logFile: string | null
  /**
   * SIGKILL and wait for the exit; with `graceMs`, SIGTERM first and SIGKILL only if it has not
   * exited by then (a profiled server writes its --cpu-prof files on a clean exit only).
   */
  kill(graceMs?: number): Promise<void>
}

/**
 * Spawn a server process and resolve once one of its output lines satisfies `ready` (the value
 * `ready` returns is passed on). Rejects with the output tail if it exits or times out first.
 */
export async function spawnUntil<T>(
  command: string,
  args: string[],
  ready: (line: string) => T | undefined,
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number; logFile?: string },
): Promise<{ proc: Spawned; value: T }> {
  const child = spawn(command, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  live.add(child)
  // Whole lines, untruncated, kept after the process is gone: the only record of why a server
  // died mid-row (the tail below is short and lives in this process only).
  const log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : null
  let killing = false
  let died: string | null = null
  child.once('exit', (code, signal) => {
    live.delete(child)
    if (!killing) died = signal ? `signal ${signal}` : `exit code ${code}`
    log?.write(
      `# ${new Date().toISOString()} ${command} pid ${child.pid} ${killing ? 'killed by the harness' : `exited on its own: ${died}`}\n`,
    )
  })
  child.once('close', () => log?.end())
  const lines: string[] = []
  const proc: Spawned = {
    child,
    pid: child.pid ?? -1,
    tail: () => lines.join('\n'),
    died: () => died,
    logFile: options.logFile ?? null,
    async kill(graceMs = 0) {
      if (child.exitCode !== null || child.signalCode !== null) return
      killing = true
      const exited = once(child, 'exit')
      if (graceMs > 0) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
        await exited
        clearTimeout(timer)
        return
      }
      child.kill('SIGKILL')
      await exited
    },
  }
  return new Promise((resolve, reject) => {
    let settled = false
    const finish = (fn: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      fn()
    }
    const onLine = (line: string) => {
      log?.write(`${line}\n`)
      lines.push(line.length > 400 ? `${line.slice(0, 400)}…` : line)
      if (lines.length > 30) lines.shift()
      if (settled) return
      let v: T | undefined
      try {
        v = ready(line)
      } catch {}
      if (v !== undefined) finish(() => resolve({ proc, value: v as T }))
    }
    createInterface({ input: child.stdout! }).on('line', onLine)
    createInterface({ input: child.stderr! }).on('line', onLine)
    child.once('error', (err) => finish(() => reject(err)))
    // 'close', not 'exit': stdio is drained by then, so the tail holds the reason it died.
    child.once('close', (code, signal) =>
      finish(() =>
        reject(new Error(`${command} exited (${signal ?? code}) before it was ready:\n${proc.tail()}`)),
      ),
    )
    const timer = setTimeout(
      () =>
        finish(() => {
          child.kill('SIGKILL')
          reject(new Error(`${command} not ready within ${options.timeoutMs} ms:\n${proc.tail()}`))
        }),
      options.timeoutMs,
    )
  })
}

const kClockTicks = 100 // USER_HZ on Linux: /proc/<pid>/stat counts in these

/** utime + stime of a process (all its threads), in seconds. NaN if it is gone. */
export function cpuSeconds(pid: number): number {
  return statCpu(`/proc/${pid}/stat`)
}

/** utime + stime of a process's main thread alone (its tid is the pid), in seconds. */
export function mainThreadCpuSeconds(pid: number): number {
  return statCpu(`/proc/${pid}/task/${pid}/stat`)
}

function statCpu(file: string): number {
  try {
    const stat = readFileSync(file, 'utf8')
    // Fields after the command name, which is in parentheses and may contain spaces.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(rest[11]) + Number(rest[12])) / kClockTicks
  } catch {
    return Number.NaN
  }
}

/** One thread's scheduler account (/proc/<pid>/task/<tid>/schedstat), in ms. */
export interface ThreadSched {
  /** On a CPU. */
  runMs: number
  /** Runnable but waiting for a CPU (the run queue). */
  waitMs: number
}

/** One thread at one moment: its account, its name (comm) and its nice. */
export interface ThreadSample extends ThreadSched {
  name: string
  nice: number
}

/** A process's threads by tid (threadSched). */
export type ThreadSnapshot = Map<string, ThreadSample>

/**
 * Every thread of a process by tid, with its name and nice, from schedstat: ns resolution, unlike
 * /proc/<pid>/stat's 10 ms ticks, and with the run-queue wait beside the CPU. Node names its
 * threads (`mi-subscribers`, `WorkerThread`, `V8Worker`, `libuv-worker`, …).
 */
export function threadSched(pid: number): ThreadSnapshot {
  const out: ThreadSnapshot = new Map()
  let tids: string[]
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const close = stat.lastIndexOf(')')
      const name = stat.slice(stat.indexOf('(') + 1, close)
      // Fields after the name, which is in parentheses and may contain spaces; nice is field 19.
      const nice = Number(stat.slice(close + 2).split(' ')[16])
      const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number)
      out.set(tid, { name, nice, runMs: run! / 1e6, waitMs: wait! / 1e6 })
    } catch {
      // exited meanwhile
    }
  }
  return out
}

/** A thread name's account between two snapshots, with the nice values its threads had. */
export interface ThreadDelta extends ThreadSched {
  nice: number[]
}

/**
 * b − a per thread, summed by thread name. A thread only in b counts from 0; one that exited
 * before b drops out (its last interval is lost, and it cannot make a sum negative).
 */
export function schedDelta(a: ThreadSnapshot, b: ThreadSnapshot): Map<string, ThreadDelta> {
  const out = new Map<string, ThreadDelta>()
  for (const [tid, t] of b) {
    const f = a.get(tid)
    const sum = out.get(t.name) ?? { runMs: 0, waitMs: 0, nice: [] }
    sum.runMs += t.runMs - (f?.runMs ?? 0)
    sum.waitMs += t.waitMs - (f?.waitMs ?? 0)
    if (!sum.nice.includes(t.nice)) sum.nice.push(t.nice)
    out.set(t.name, sum)
  }
  return out
}

export function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) : 0
  } catch {
    return 0
  }
}

/**
 * Samples a server's memory and CPU: peak RSS is the larger of VmHWM (the kernel's own high-water
 * mark, which includes start-up) and the VmRSS samples; CPU seconds are counted between mark()
 * and stop(), i.e. over the measurement window only.
 */
export class ProcMonitor {
  readonly pid: number
  #peakKiB = 0
  #timer: NodeJS.Timeout
  #cpuFrom = Number.NaN
  #cpuTo = Number.NaN

  constructor(pid: number, intervalMs = 200) {
    this.pid = pid
    this.#timer = setInterval(() => this.#sample(), intervalMs)
    this.#timer.unref()
    this.#sample()
  }

  #sample(): void {
    this.#peakKiB = Math.max(this.#peakKiB, statusKiB(this.pid, 'VmRSS'), statusKiB(this.pid, 'VmHWM'))
  }

  mark(): void {
    this.#cpuFrom = cpuSeconds(this.pid)
  }

  /** Close the CPU window (idempotent: the first call wins). */
  markEnd(): void {
    if (Number.isNaN(this.#cpuTo)) this.#cpuTo = cpuSeconds(this.pid)
  }

  stop(): { rssPeakMiB: number; cpuSeconds: number } {
    this.#sample()
    this.markEnd()
    clearInterval(this.#timer)
    return { rssPeakMiB: this.#peakKiB / 1024, cpuSeconds: this.#cpuTo - this.#cpuFrom }
  }
}

/**
 * Samples threadSched(pid) every `intervalMs` until the returned function is called with a window
 * (performance.now() ms); that gives each thread name's account between the samples nearest the
 * window's start and end.
 */
export function sampleThreadSched(
  pid: number,
  intervalMs = 200,
): (w: { startMs: number; endMs: number }) => Map<string, ThreadDelta> {
  const samples: Array<{ t: number; sched: ThreadSnapshot }> = []
  const take = () => samples.push({ t: performance.now(), sched: threadSched(pid) })
  take()
  const timer = setInterval(take, intervalMs)
  timer.unref()
  return (w) => {
    clearInterval(timer)
    take()
    const near = (t: number) =>
      samples.reduce((a, s) => (Math.abs(s.t - t) < Math.abs(a.t - t) ? s : a), samples[0]!)
    return schedDelta(near(w.startMs).sched, near(w.endMs).sched)
  }
}

/**
 * Set the nice of `pid`'s threads by name (`comm`): `spec` is `name=nice,…`, `*` for every thread
 * (on Linux a nice is per thread; setpriority on a thread id changes that thread only). For A/B
 * runs (MI_BENCH_SERVER_THREAD_NICE, MI_BENCH_STORE_NICE); returns how many threads it changed.
 */
export function reniceThreads(pid: number, spec: string): number {
  const want = new Map(
    spec
      .split(',')
      .filter(Boolean)
      .map((kv) => {
        const [name, n] = kv.split('=')
        return [name!, Number(n)] as const
      }),
  )
  let changed = 0
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()
      const n = want.get(comm) ?? want.get('*')
      if (n === undefined || Number.isNaN(n)) {
        // `name=idle`: SCHED_IDLE (any normal thread that wakes preempts it at once), via chrt.
        if (spec.includes(`${comm}=idle`) || spec.includes('*=idle')) {
          execFileSync('chrt', ['--idle', '-p', '0', tid], { stdio: 'ignore' })
          changed++
        }
        continue
      }
      setPriority(Number(tid), n)
      changed++
    } catch {}
  }
  return changed
}
