/**
 * A catch-up run outside the server: the queue-worker app (apps/queue-worker: the subscriber
 * runtime and its pool, with its own heap, GC helper threads and libuv pool) over the server's
 * data directory while the server ingests. By default at SCHED_IDLE and pinned to the host's last
 * CPU (`taskset -c N chrt --idle 0`; MI_BENCH_CATCH_UP_PREFIX replaces that prefix, '' for none):
 * as far as a catch-up can be kept off ingest's cores on one host. The s3 scenario's
 * `ours+noop-process` row runs the no-op plugin this way, the floor under any uploader's share of
 * ingest's p99 there (packages/subscriber-s3 README, "Catch-up and ingest").
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { cpuSeconds, reniceThreads } from '../procs.ts'

const kCli = fileURLToPath(new URL('../../../apps/queue-worker/src/cli.ts', import.meta.url))

export interface CatchUpProcess {
  /** Notes at a window's end: whether it is still catching up, its CPU, its summary once done. */
  notes(): Record<string, number | string>
  /** Wait up to `ms` for it to finish (then its time and MB/s), else kill it. */
  finish(ms: number): Promise<Record<string, number | string>>
}

/** The catch-up's placement, by default: SCHED_IDLE on the host's last CPU (Linux). */
function prefix(): string[] {
  return (
    process.env.MI_BENCH_CATCH_UP_PREFIX ??
    (process.platform === 'linux' ? `taskset -c ${availableParallelism() - 1} chrt --idle 0` : '')
  )
    .split(' ')
    .filter(Boolean)
}

/** Every thread of process `pid` where the catch-up runs (a store standing in for a remote one). */
export function pinBeside(pid: number): void {
  if (process.env.MI_BENCH_CATCH_UP_PREFIX !== undefined || process.platform !== 'linux') return
  execFileSync('taskset', ['-a', '-p', '-c', String(availableParallelism() - 1), String(pid)], {
    stdio: 'ignore',
  })
  reniceThreads(pid, '*=idle')
}

/** Start `use` over `dataDir` to the log's durable end as of now, with queue-worker `flags`. */
export function startCatchUpProcess(dataDir: string, use: string, flags: string[]): CatchUpProcess {
  const argv = [...prefix(), process.execPath, kCli, '--data-dir', dataDir, '--use', use]
  const child: ChildProcess = spawn(argv[0]!, [...argv.slice(1), ...flags, '--json', '--no-progress'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  let ended = false
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString()
  })
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      ended = true
      resolve()
    }),
  )
  return {
    notes() {
      const notes: Record<string, number | string> = {
        catch_up_process: prefix().join(' ') || 'plain',
        catch_up_process_running_at_window_end: ended ? 'no' : 'yes',
      }
      if (!ended) notes.catch_up_process_cpu_s = +cpuSeconds(child.pid!).toFixed(2)
      return notes
    },
    async finish(ms): Promise<Record<string, number | string>> {
      const timer = setTimeout(() => child.kill('SIGKILL'), ms)
      await exited
      clearTimeout(timer)
      if (child.exitCode !== 0) return { catch_up_process_ended: `${child.exitCode ?? child.signalCode}` }
      const s = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { bytes?: number; elapsed_s?: number }
      return {
        catch_up_process_s: s.elapsed_s ?? -1,
        catch_up_process_mb_per_s: s.bytes && s.elapsed_s ? +(s.bytes / 1e6 / s.elapsed_s).toFixed(1) : -1,
      }
    },
  }
}
