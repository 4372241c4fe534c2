import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { type LoadSpec, runLoad } from './load/coordinator.ts'
import { ProcMonitor, statusKiB } from './procs.ts'
import { kTargets, type Row, type RunContext, type TargetName, windowFor } from './scenario.ts'
import { flushLatency, type OursServer, stageBreakdown, startOurs } from './targets/ours.ts'
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
  diskSubscriber?: boolean
  drainMs?: number
  /** In-flight frames per connection for every target, overriding windowFor (the in-flight rows). */
  window?: number
  /** Generator processes; default ctx.workers. */
  workers?: number
  /** Extra `limits.*` settings for our server. */
  limits?: Record<string, number>
  /**
   * While the load runs, against our server (subscriber lag sampling, an attack); awaited before
   * the load starts. Returns what to call once the load is over, whose numbers go into `extra`.
   */
  during?: (server: OursServer) => DuringStop | Promise<DuringStop>
}

type DuringStop = () => Promise<Record<string, number | string>>

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
  const params = {
    body_bytes: r.bodyBytes,
    connections: r.connections,
    window,
    ...(r.ratePerSec ? { offered_per_s: r.ratePerSec } : {}),
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
        ...(r.diskSubscriber ? { diskSubscriber: true } : {}),
        ...(r.limits ? { limits: r.limits } : {}),
      })
    } else if (target === 'nats-js' || target === 'nats-js-lean') peer = await startNats(dir)
    else peer = await startRedis(dir)
  } catch (err) {
    row.skipped = `could not start: ${(err as Error).message.split('\n')[0]}`
    ctx.log(`  ${target}: ${row.skipped}`)
    await rm(dir, { recursive: true, force: true })
    return row
  }
  const server = (ours ?? peer)!
  if (peer) row.extra.version = peer.version
  const mon = new ProcMonitor(server.pid)
  // RSS of the started, idle server: the base that per-connection memory is measured against.
  if (ours) row.extra.rss_start_mib = Math.round(statusKiB(server.pid, 'VmRSS') / 102.4) / 10
  let stopDuring: DuringStop | null = null
  try {
    if (ours && r.during) stopDuring = await r.during(ours)
    const spec: LoadSpec = {
      kind: ours ? 'mip' : target === 'redis' ? 'redis' : 'nats',
      host: '127.0.0.1',
      port: server.port,
      connections: r.connections,
      localAddresses: r.localAddresses ?? [],
      bodyBytes: r.bodyBytes,
      recordsPerFrame: r.recordsPerFrame ?? 1,
      window,
      ratePerSec: r.ratePerSec ?? 0,
      warmupMs: ctx.warmupMs,
      measureMs: ctx.measureMs,
      drainMs: r.drainMs ?? 5000,
      ...(ours ? { token: ours.token } : {}),
      connectConcurrency: r.connectConcurrency ?? 64,
      natsPublish: target === 'nats-js-lean' ? 'raw' : 'js',
      maxFrames: 0,
      workers: r.workers ?? ctx.workers,
    }
    const out = await runLoad(spec, {
      measureStart: () => mon.mark(),
      measureEnd: () => mon.markEnd(),
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
    if (r.ratePerSec) row.extra.achieved_pct = Math.round((out.msgsPerSec / r.ratePerSec) * 100)
    if (ours) {
      const stats = await ours.stats()
      row.flush = flushLatency(stats)
      Object.assign(row.extra, stageBreakdown(stats))
    }
    if (stopDuring) Object.assign(row.extra, await stopDuring())
  } catch (err) {
    row.errors++
    row.extra.failed = (err as Error).message.split('\n')[0]!
    ctx.log(`  ${target}: failed: ${(err as Error).message}`)
    if (ours) ctx.log(ours.tail())
  } finally {
    const usage = mon.stop()
    row.rss_peak_mib = usage.rssPeakMiB
    row.cpu_s = usage.cpuSeconds
    await server.kill()
    await rm(dir, { recursive: true, force: true })
  }
  return row
}

/** Targets of a comparison scenario, in table order, filtered by --targets. */
export function comparedTargets(ctx: RunContext): TargetName[] {
  return kTargets.filter((t) => ctx.targets.has(t) && (t !== 'ours-base' || ctx.baseRoot !== undefined))
}
