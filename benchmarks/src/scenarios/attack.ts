/**
 * Hostile clients (issue 11.3, 11.4): what an attack costs a well-behaved client and the server.
 *
 * `attack-budget`: our server with `limits.memoryBudgetBytes` = 64 MiB, a well-behaved open-loop
 * client (1,000 records/s over 4 connections, 128 B), once alone and once while a standing attack
 * runs in a separate process (@module-ingest/testing `startAttack`, sustained: a shed socket is
 * replaced a second later): 400 pre-auth sockets announcing 1 MiB frames, 200 holding part of a
 * HELLO, 48 authenticated sockets holding 900 kB of an unfinished DATA frame, 16 flooding PINGs
 * without reading. Attackers connect from 127.0.0.2-5, the client from 127.0.0.1; the handshake
 * throttle is lifted so that every attacking socket gets in and holds what it can (the throttle is
 * its own defence). Rows: the client's ack p50/p99/p99.9, the server's RSS peak (`rss_peak_mib`,
 * over the whole row) against its idle RSS (`rss_start_mib`), what the attackers were answered
 * (`shed_*`: ERROR code → count) and how many sockets the server shed for unsent output.
 *
 * `attack-modules-100k` (by name only): 100,000 distinct modules each connect, send one record
 * and leave (the claims LRU, the log's per-module high-water marks and catalog). Reports the
 * server's RSS before and after, and a control row with as many sessions over 1,000 module names
 * (the session churn alone). `bytes_per_module_net` = (ΔRSS − ΔRSS of the control) / (modules −
 * control modules): the state kept per distinct module. `--quick`: 5,000 sessions. With
 * `--base DIR --targets ours,ours-base` the distinct row also runs against the other checkout.
 *
 * Not part of the test suite (the bounded CI version is packages/engine/test/attack.test.ts).
 * Command: node benchmarks/src/run.ts attack-budget
 *          node benchmarks/src/run.ts attack-modules-100k
 * Prerequisites: none beyond Node 24 (loopback addresses 127.0.0.2… exist on Linux).
 */
import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { encodeData } from '@module-ingest/protocol'
import type { AttackOptions, AttackOutcomes } from '@module-ingest/testing'
import { MipSocket } from '@module-ingest/testing'
import { emptyRow, measureTarget } from '../measure.ts'
import { cpuSeconds, statusKiB } from '../procs.ts'
import type { Row, RunContext, Scenario } from '../scenario.ts'
import { startOurs } from '../targets/ours.ts'

const MiB = 1024 * 1024
const kBudget = 64 * MiB
const kLimits = { memoryBudgetBytes: kBudget, failedHandshakesPerMinute: 1_000_000, handshakeTimeoutMs: 5000 }
const kAttackerUrl = new URL('../load/attacker.ts', import.meta.url)

interface ShedStats {
  connections?: { shedOutput?: number }
  metrics: { counters: Array<{ name: string; value: number; labels?: Record<string, string> }> }
}

const budgetScenario: Scenario = {
  name: 'attack-budget',
  group: 'attack',
  description: 'a good client (1k records/s) alone and during a standing memory attack: ack p99, RSS peak',
  quick: false,
  full: true,
  async run(ctx: RunContext): Promise<Row[]> {
    if (!ctx.targets.has('ours')) return []
    const run = { bodyBytes: 128, connections: 4, ratePerSec: 1000, window: 64, limits: kLimits }
    ctx.log('  ours, no attack …')
    const alone = await measureTarget(ctx, 'attack-budget', 'ours', run)
    alone.extra.attack = 'none'
    ctx.log('  ours, under attack …')
    let child: ChildProcess | null = null
    try {
      const attacked = await measureTarget(ctx, 'attack-budget', 'ours', {
        ...run,
        async during(ut) {
          if (ut.kind !== 'ours') throw new Error('attack-budget runs against our server only')
          const server = ut.server
          const options: AttackOptions = {
            port: server.port,
            token: server.token,
            oversize: ctx.quick ? 40 : 400,
            helloPartial: ctx.quick ? 20 : 200,
            partialData: ctx.quick ? 8 : 48,
            deaf: ctx.quick ? 4 : 40,
            deafBytes: 6 * MiB,
            localAddresses: ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'],
            sustain: true,
          }
          child = fork(kAttackerUrl, [JSON.stringify(options)], { stdio: 'inherit' })
          const [ready] = (await once(child, 'message')) as [{ code: string; opened: number }]
          if (ready.code !== 'READY') throw new Error(`attacker: ${JSON.stringify(ready)}`)
          return async () => {
            child!.send({ code: 'STOP' })
            const [done] = (await once(child!, 'message')) as [{ outcomes: AttackOutcomes; opened: number }]
            const stats = (await server.stats()) as unknown as ShedStats
            const shedPartial = stats.metrics.counters
              .filter((c) => c.name === 'mi_connections_shed_total')
              .reduce((n, c) => n + c.value, 0)
            return {
              attack: 'standing',
              attack_sockets_opened: done.opened,
              shed_oversize: JSON.stringify(done.outcomes.oversize),
              shed_hello_partial: JSON.stringify(done.outcomes.helloPartial),
              shed_partial_data: JSON.stringify(done.outcomes.partialData),
              shed_partial_frames_total: shedPartial,
              shed_output_total: stats.connections?.shedOutput ?? 0,
              budget_mib: kBudget / MiB,
            }
          }
        },
      })
      return [alone, attacked]
    } finally {
      const c = child as ChildProcess | null
      if (c && c.exitCode === null) c.kill('SIGKILL')
    }
  },
}

const modulesScenario: Scenario = {
  name: 'attack-modules-100k',
  group: 'attack',
  description:
    'by name: 100k distinct modules send one record each; server RSS before/after, bytes per module',
  quick: false,
  full: false,
  async run(ctx: RunContext): Promise<Row[]> {
    if (!ctx.targets.has('ours')) return []
    const sessions = ctx.quick ? 5000 : 100_000
    // The control row runs as many sessions over 1,000 module names: what the session churn alone
    // costs (heaps grown by the traffic). The difference is the state kept per distinct module.
    const distinct = await modulesRow(ctx, sessions, sessions, 'ours')
    const control = await modulesRow(ctx, sessions, 1000, 'ours')
    const d = distinct.extra
    const c = control.extra
    if (typeof d.rss_growth_kib === 'number' && typeof c.rss_growth_kib === 'number') {
      d.bytes_per_module_net = Math.round(
        ((d.rss_growth_kib - c.rss_growth_kib) * 1024) / (Number(d.modules) - Number(c.modules)),
      )
    }
    // --base DIR: the distinct row again against the other checkout (same churn, so the difference
    // in bytes_per_session is the difference in what each keeps per module).
    const base =
      ctx.baseRoot && ctx.targets.has('ours-base')
        ? [await modulesRow(ctx, sessions, sessions, 'ours-base')]
        : []
    return [distinct, control, ...base]
  },
}

/** `sessions` sessions of one record each, spread over `distinct` module names. */
async function modulesRow(
  ctx: RunContext,
  sessions: number,
  distinct: number,
  target: 'ours' | 'ours-base',
): Promise<Row> {
  const concurrency = 64
  const dataDir = join(ctx.scratch, `attack-modules-${target}-${distinct}`)
  const row = emptyRow('attack-modules-100k', target, { body_bytes: 16, connections: sessions })
  ctx.log(`  ${target}: ${sessions} sessions over ${distinct} modules …`)
  const server = await startOurs({
    dataDir,
    flush: 'interval',
    ...(target === 'ours-base' ? { root: ctx.baseRoot! } : {}),
  })
  try {
    // Many local addresses: each closed connection leaves a TIME_WAIT port on its address.
    const addrs = Array.from({ length: 16 }, (_, i) => `127.0.1.${i + 1}`)
    const send = async (i: number) => {
      const sock = await MipSocket.open(server.port, '127.0.0.1', addrs[i % addrs.length])
      await sock.hello({ module: `flood-${i % distinct}`, token: server.token })
      // seq 1 again for a known module is a duplicate: ACKed, not stored again.
      sock.write(encodeData(1n, { stream: 'attack.modules', ts: 0, body: `m${i}` }))
      await sock.ackFor(1n, 60_000)
      sock.close()
    }
    let next = 0
    const runUntil = async (n: number) => {
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < n) await send(next++)
        }),
      )
    }
    // Warm-up: the first sessions also touch fixed memory (rings, heaps); measure after them.
    await runUntil(Math.min(2000, sessions / 10))
    const before = statusKiB(server.pid, 'VmRSS')
    const cpuBefore = cpuSeconds(server.pid)
    const counted = next
    const t0 = performance.now()
    await runUntil(sessions)
    const after = statusKiB(server.pid, 'VmRSS')
    row.cpu_s = cpuSeconds(server.pid) - cpuBefore
    const seconds = (performance.now() - t0) / 1000
    const measured = sessions - counted
    row.rss_peak_mib = statusKiB(server.pid, 'VmHWM') / 1024
    row.msgs_per_s = Math.round(measured / seconds)
    row.extra.distinct_modules = distinct
    row.extra.rss_before_mib = Math.round(before / 102.4) / 10
    row.extra.rss_after_mib = Math.round(after / 102.4) / 10
    row.extra.rss_growth_kib = after - before
    row.extra.modules = Math.min(distinct, sessions) - Math.min(distinct, counted)
    row.extra.bytes_per_session = Math.round(((after - before) * 1024) / measured)
    // A session each: HELLO, claim, one DATA, ACK, close (the server's CPU, per session).
    row.extra.server_cpu_us_per_session = Math.round((row.cpu_s * 1e6) / measured)
  } catch (err) {
    row.errors++
    row.extra.failed = (err as Error).message.split('\n')[0]!
    ctx.log(`  failed: ${(err as Error).message}`)
  } finally {
    await server.kill()
    await rm(dataDir, { recursive: true, force: true })
  }
  return row
}

export const attackScenarios: Scenario[] = [budgetScenario, modulesScenario]
