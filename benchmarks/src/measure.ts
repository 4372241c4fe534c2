import { execFileSync } from 'node:child_process'
import { copyFile, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { type BodySpec, meanBodyBytes } from './load/bodies.ts'
import { type LoadSpec, runLoad } from './load/coordinator.ts'
import { ProcMonitor, statusKiB } from './procs.ts'
import { kTargets, type Row, type RunContext, type TargetName, windowFor } from './scenario.ts'
import {
  flushLatency,
  type OursServer,
  type SubscriberEntry,
  stageBreakdown,
  startOurs,
} from './targets/ours.ts'
import { type PeerServer, startNats, startRedis } from './targets/peers.ts'

/**
 * The common shape of a scenario row: start a fresh server for the target, watch its process,
 * run the load, scrape the server's own numbers, kill it, delete its data.
 */

export interface TargetRun {
  bodyBytes: number
  connections: number
  ratePerSec?: number
  recordsPerFrame?: number
  /** Extra addresses to connect from (127.0.0.2 …), to avoid ephemeral-port exhaustion. */
  localAddresses?: string[]
  connectConcurrency?: number
  maxConnections?: number
  /** Our server only: subscribers to run, and the HTTP listener (see OursOptions). */
  subscribers?: SubscriberEntry[]
  http?: boolean
  /** What the records are and where they go (load/bodies.ts, LoadPlan); default random, `bench`. */
  body?: BodySpec
  stream?: string
  tsSpreadMs?: number
  drainMs?: number
  /** In-flight frames per connection for every target, overriding windowFor (the in-flight rows). */
  window?: number
  /** Generator processes; default ctx.workers. */
  workers?: number
  /** Before the load, once the server is up (e.g. preload keys); its numbers go into the notes. */
  prepare?: (server: UnderTest) => Promise<Record<string, number | string> | undefined>
  /**
   * Called (and awaited) as the load starts: lag sampling, queries while ingesting, an attack. The
   * function it returns is called after the load with the measurement window (performance.now()
   * ms) and returns numbers for the notes.
   */
  during?: (server: UnderTest) => DuringStop | Promise<DuringStop>
  /** Extra `limits.*` settings for our server. */
  limits?: Record<string, number>
  /** Note the load generators' CPU seconds inside the window (`load_cpu_s`) beside the server's. */
  loadCpu?: boolean
  /** This row's measurement window, instead of --measure-ms (enough queries for a p99). */
  measureMs?: number
}

/** The server a row runs against. */
export type UnderTest = { kind: 'ours'; server: OursServer } | { kind: 'peer'; server: PeerServer }

export interface MeasureWindow {
  startMs: number
  endMs: number
}

type DuringStop = (window: MeasureWindow) => Promise<Record<string, number | string>>

let runCounter = 0

/** A result row with nothing measured yet. */
export function emptyRow(scenario: string, target: TargetName, params: Row['params']): Row {
  return {
    scenario,
    target,
    params,
    msgs_per_s: null,
    mb_per_s: null,
    ack: null,
    flush: null,
    rss_peak_mib: null,
    cpu_s: null,
    errors: 0,
    extra: {},
  }
}

export async function measureTarget(
  ctx: RunContext,
  scenario: string,
  target: TargetName,
  r: TargetRun,
): Promise<Row> {
  const window = r.window ?? windowFor(ctx, r.connections)
  const bodyBytes = r.body ? meanBodyBytes(r.body, r.bodyBytes) : r.bodyBytes
  const params = {
    body_bytes: bodyBytes,
    connections: r.connections,
    window,
    ...(r.ratePerSec ? { offered_per_s: r.ratePerSec * (r.recordsPerFrame ?? 1) } : {}),
  }
  const row = emptyRow(scenario, target, params)
  const dir = join(ctx.scratch, `${scenario}-${target}-${++runCounter}`)
  let ours: OursServer | null = null
  let peer: PeerServer | null = null
  try {
    if (target === 'ours' || target === 'ours-base' || target === 'ours-interval') {
      if (target === 'ours-base' && !ctx.baseRoot) throw new Error('target ours-base needs --base DIR')
      ours = await startOurs({
        dataDir: dir,
        flush: target === 'ours-interval' ? 'interval' : 'always',
        ...(target === 'ours-base' ? { root: ctx.baseRoot! } : {}),
        ...(r.maxConnections ? { maxConnections: r.maxConnections } : {}),
        ...(r.subscribers ? { subscribers: r.subscribers } : {}),
        ...(r.http ? { http: true } : {}),
        ...(r.limits ? { limits: r.limits } : {}),
      })
    } else if (target === 'nats-js' || target === 'nats-js-lean') peer = await startNats(dir)
    else peer = await startRedis(dir)
  } catch (err) {
    row.skipped = couldNotStart(err)
    ctx.log(`  ${target}: ${row.skipped}`)
    await rm(dir, { recursive: true, force: true })
    return row
  }
  const server = (ours ?? peer)!
  if (peer) row.extra.version = peer.version
  const mon = new ProcMonitor(server.pid)
  // RSS of the started, idle server: the base that per-connection memory is measured against.
  if (ours) row.extra.rss_start_mib = Math.round(statusKiB(server.pid, 'VmRSS') / 102.4) / 10
  const underTest: UnderTest = ours ? { kind: 'ours', server: ours } : { kind: 'peer', server: peer! }
  const window_: MeasureWindow = { startMs: 0, endMs: 0 }
  // A scenario's own steps (a preload, a query loop, a wait for catch-up) may wait for a server
  // that is gone (a client's pending sends, a poll): the row ends when the server does.
  const orDeath = <T>(p: Promise<T>): Promise<T> =>
    ours
      ? Promise.race([
          p,
          ours.whenDied.then((died): never => {
            throw new Error(`the server died: ${died}`)
          }),
        ])
      : p
  let stopDuring: DuringStop | null = null
  try {
    if (r.prepare) Object.assign(row.extra, await orDeath(r.prepare(underTest)))
    stopDuring = r.during ? await orDeath(Promise.resolve(r.during(underTest))) : null
    const spec: LoadSpec = {
      kind: ours ? 'mip' : target === 'redis' ? 'redis' : 'nats',
      host: '127.0.0.1',
      port: server.port,
      connections: r.connections,
      localAddresses: r.localAddresses ?? [],
      bodyBytes,
      ...(r.body ? { body: r.body } : {}),
      ...(r.stream ? { stream: r.stream } : {}),
      ...(r.tsSpreadMs ? { tsSpreadMs: r.tsSpreadMs } : {}),
      recordsPerFrame: r.recordsPerFrame ?? 1,
      window,
      ratePerSec: r.ratePerSec ?? 0,
      warmupMs: ctx.warmupMs,
      measureMs: r.measureMs ?? ctx.measureMs,
      drainMs: r.drainMs ?? 5000,
      ...(ours ? { token: ours.token } : {}),
      connectConcurrency: r.connectConcurrency ?? 64,
      natsPublish: target === 'nats-js-lean' ? 'raw' : 'js',
      maxFrames: 0,
      workers: r.workers ?? ctx.workers,
    }
    const out = await runLoad(spec, {
      measureStart: () => {
        window_.startMs = performance.now()
        mon.mark()
      },
      measureEnd: () => {
        window_.endMs = performance.now()
        mon.markEnd()
      },
    })
    row.msgs_per_s = out.msgsPerSec
    row.mb_per_s = out.mbPerSec
    row.ack = out.latency
    row.errors = out.errors + out.timedOut
    if (out.timedOut) row.extra.timed_out = out.timedOut
    if (out.errorSamples.length) row.extra.first_error = out.errorSamples[0]!
    if (out.connected !== r.connections) row.extra.connected = out.connected
    if (out.settledFrames === 0) row.extra.note = 'nothing acknowledged inside the window'
    if (r.connections >= 1000) row.extra.connect_ms = Math.round(out.connectMs)
    if (r.loadCpu) row.extra.load_cpu_s = Math.round(out.cpuS * 100) / 100
    if (r.ratePerSec)
      row.extra.achieved_pct = Math.round((out.msgsPerSec / (r.ratePerSec * (r.recordsPerFrame ?? 1))) * 100)
    if (ours) {
      const stats = await ours.stats()
      row.flush = flushLatency(stats)
      Object.assign(row.extra, stageBreakdown(stats))
    }
    if (stopDuring) {
      const stop = stopDuring
      stopDuring = null
      Object.assign(row.extra, await orDeath(stop(window_)))
    }
  } catch (err) {
    row.errors++
    row.extra.failed = (err as Error).message.split('\n')[0]!
    ctx.log(`  ${target}: failed: ${(err as Error).message}`)
    if (ours) ctx.log(ours.tail())
  } finally {
    // A load that failed still ends what `during` started (samplers, query loops).
    if (stopDuring) await orDeath(stopDuring(window_)).catch(() => {})
    if (ours) await reportDied(ctx, row, ours)
    const usage = mon.stop()
    row.rss_peak_mib = usage.rssPeakMiB
    row.cpu_s = usage.cpuSeconds
    await server.kill()
    await rm(dir, { recursive: true, force: true })
  }
  return row
}

/**
 * A server that ended on its own during the row (it is only ever SIGKILLed by the harness after
 * the row): the row fails with its exit code or signal and its last log lines, the same goes to
 * the run's log, and its whole log is copied beside the run's scratch dir, where it outlives the
 * run (`died-<row>.log`). A SIGKILL with no OOM line in `dmesg` is someone else's kill.
 */
async function reportDied(ctx: RunContext, row: Row, ours: OursServer): Promise<void> {
  const died = ours.died()
  if (died === null) return
  const kept = join(dirname(ctx.scratch), `died-${basename(ours.logFile)}`)
  await copyFile(ours.logFile, kept).catch(() => {})
  const tail = ours.tail().split('\n').slice(-8)
  if (row.extra.failed !== undefined) row.extra.failed_first = row.extra.failed
  else row.errors++
  row.extra.failed = `server pid ${ours.pid} died during the row: ${died}${died === 'signal SIGKILL' ? oomKilled(ours.pid) : ''}`
  row.extra.server_log = kept
  row.extra.server_log_tail = tail.join(' | ').slice(-600)
  ctx.log(`  ${row.target}: ${row.extra.failed}; log ${kept}; last lines:\n    ${tail.join('\n    ')}`)
}

/**
 * Whether the kernel's OOM killer sent that SIGKILL (its `Killed process <pid>` line in dmesg);
 * otherwise another process did (or dmesg is not readable here, which is said too).
 */
function oomKilled(pid: number): string {
  try {
    const log = execFileSync('dmesg', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    return new RegExp(`Killed process ${pid}\\b`).test(log)
      ? ' (the kernel OOM killer, see dmesg)'
      : ' (not the OOM killer: no dmesg line; another process sent it)'
  } catch {
    return ' (dmesg not readable: OOM killer or another process)'
  }
}

/** Targets of a comparison scenario, in table order, filtered by --targets. */
export function comparedTargets(ctx: RunContext): TargetName[] {
  return kTargets.filter((t) => ctx.targets.has(t) && (t !== 'ours-base' || ctx.baseRoot !== undefined))
}

/**
 * A row's skip reason for a target that did not start: the error's first line and, when the
 * process said why it died (spawnUntil's tail), its last line too (a missing module, a bad flag).
 */
export function couldNotStart(err: unknown): string {
  const lines = (err as Error).message.split('\n').filter((l) => l.trim() !== '')
  const why = lines.length > 1 ? ` … ${lines.at(-1)!.trim()}` : ''
  return `could not start: ${lines[0] ?? String(err)}${why}`
}
