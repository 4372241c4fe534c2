/**
 * The keyed store (packages/kv: `kv.<ns>` records, materialized by the `kv` subscriber into
 * SQLite, read over HTTP) against Redis `SET`/`GET` under `appendfsync always`, in the same run:
 * durable sets closed loop (one `set` per DATA frame / one SET per command, 16 connections, the
 * same in-flight window for both), over `keys` distinct keys loaded beforehand.
 *
 * - `ours`: the same sets with no kv subscriber: ingest alone, the baseline of this run;
 * - `ours+kv`: the kv subscriber applying them (`applied_per_s` inside the measurement window, lag,
 *   catch-up), its ingest ack p99 against `ours`, and one client reading
 *   `GET /kv/v1/get?ns=bench&key=…` of random keys at a fixed 2,000 gets/s while the sets run
 *   (`MI_BENCH_KV_GET_RATE`; 0 = back to back): `get_p50_ms`/`get_p99_ms`. A fixed rate, the
 *   same for both targets, so a cheaper get does not mean more gets taking cores from the sets;
 * - `redis`: `SET device-N <json>` (records/s = durable sets/s: Redis replies after the AOF
 *   fsync), and `GET` of random keys on another connection meanwhile;
 * - `ours+kv get, quiet` / `redis get, quiet`: 2000 sequential gets of random keys on the same
 *   server after the load (and, for ours, after the store has applied everything, however long
 *   that takes: `waited_for_apply_ms`): get latency without load.
 *
 * `kv-10k` loads 10,000 keys; `kv-1m` loads 1,000,000 (by name or with --big: loading alone takes
 * minutes on a busy 2-core machine) and is a skipped row otherwise.
 *
 * Not part of the test suite (benchmarks/test/subscribers.test.ts only checks that it starts).
 * Command: node benchmarks/src/run.ts kv-10k --targets ours,redis
 *          node benchmarks/src/run.ts kv-1m --big
 * Prerequisites: redis-server (Debian `redis-server`) for the redis row; skipped with the reason
 * without it.
 */
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { streamOf } from '@module-ingest/kv-protocol'
import { Redis } from 'ioredis'
import type { BodySpec } from '../load/bodies.ts'
import { emptyRow, type MeasureWindow, measureTarget, type UnderTest } from '../measure.ts'
import { schedDelta, type ThreadSched, threadSched } from '../procs.ts'
import type { Row, RunContext, Scenario, TargetName } from '../scenario.ts'
import type { OursServer } from '../targets/ours.ts'
import { type KvGet, kSdkClient, sdkGet } from './kv-get.ts'
import type { QuietPlan, QuietResult } from './kv-quiet-client.ts'
import { keyOf, kKvEntry, kNs, preloadOurs, preloadRedis } from './kv-setup.ts'
import {
  againstIngestOnly,
  catchUpMs,
  oursOf,
  percentilesUs,
  threadDelays,
  waitCaughtUp,
  watchSubscriber,
} from './sub-common.ts'

const kConnections = 16

/** Gets per second during the load, both targets (0: back to back). */
const kGetRate = Number(process.env.MI_BENCH_KV_GET_RATE ?? 2000)

/**
 * One client, one get at a time, paced to kGetRate: a get that would start early waits for its
 * turn, one that is late starts at once (latency runs from its start, not its turn: this is a
 * reader that sleeps between reads, not an open-loop load).
 */
function getLoop(get: (key: string) => Promise<boolean>, keys: number) {
  const done: Array<{ t: number; ms: number }> = []
  let misses = 0
  let stopped = false
  const t0 = performance.now()
  const loop = (async () => {
    for (let n = 0; !stopped; n++) {
      const turn = kGetRate > 0 ? t0 + (n * 1000) / kGetRate : 0
      const early = turn - performance.now()
      if (early >= 1) await sleep(early)
      const t = performance.now()
      const found = await get(keyOf(Math.floor(Math.random() * keys))).catch(() => false)
      if (!found) misses++
      done.push({ t, ms: performance.now() - t })
    }
  })()
  return async (w: MeasureWindow): Promise<Record<string, number>> => {
    stopped = true
    await loop
    const inWindow = done.filter((q) => q.t >= w.startMs && q.t < w.endMs).map((q) => q.ms)
    const p = percentilesUs(inWindow)
    return {
      gets: inWindow.length,
      gets_per_s_asked: kGetRate,
      get_p50_ms: p.p50_us / 1000,
      get_p99_ms: p.p99_us / 1000,
      ...(misses ? { get_misses: misses } : {}),
    }
  }
}

const kQuietGets = 2000

/** A thread name as a notes key: `mi-reads` → `mi_reads`, `V8 DefaultWorke` → `v8_defaultworke`. */
const threadKey = (name: string) => name.toLowerCase().replace(/[^a-z0-9]+/g, '_')

/**
 * From now until the returned function is called (the load, warm-up and drain included): the kv
 * subscriber's thread (the server's only unnamed worker thread, `WorkerThread`, in this row) —
 * its CPU, its run-queue wait, its CPU per record it finished (`apply_cpu_us_per_set`), the mean
 * delivery (`records_per_delivery`) — and
 * the CPU of the server's other threads: whether applying is slow or waiting for a core.
 */
async function applyAccount(server: OursServer): Promise<() => Promise<Record<string, number>>> {
  const counts = async () => {
    const s = (await server.stats()).subscribers?.find((x) => x.name === 'kv')
    return { records: s?.delivered ?? Number.NaN, batches: s?.deliveredBatches ?? Number.NaN }
  }
  const c0 = await counts().catch(() => ({ records: Number.NaN, batches: Number.NaN }))
  const s0 = threadSched(server.pid)
  const t0 = performance.now()
  return async () => {
    const s1 = threadSched(server.pid)
    const c1 = await counts().catch(() => ({ records: Number.NaN, batches: Number.NaN }))
    const out: Record<string, number> = {
      account_ms: Math.round(performance.now() - t0),
      // How large the deliveries were: the batch settings are a ceiling (docs/kv.md, sixth
      // follow-up: "Full deliveries when behind").
      records_per_delivery: Math.round((c1.records - c0.records) / (c1.batches - c0.batches)),
    }
    let other = 0
    for (const [name, t] of schedDelta(s0, s1)) {
      if (name === 'WorkerThread') {
        out.apply_thread_cpu_ms = Math.round(t.runMs)
        out.apply_thread_runq_ms = Math.round(t.waitMs)
        out.apply_cpu_us_per_set = +((t.runMs * 1000) / (c1.records - c0.records)).toFixed(1)
      } else other += t.runMs
    }
    out.server_other_threads_cpu_ms = Math.round(other)
    return out
  }
}

/**
 * Until the server's threads together use under 5% of a core over 250 ms (at most `ms`): after
 * the subscriber's lag reaches 0 there can still be work (a delivery's commit and checkpoint, the
 * runtime committing its offset, GC of the load's garbage). Returns the wait, the last sample, and
 * the threads that used ≥ 5 ms of CPU during the wait (`idle_busy_<thread>_ms`).
 */
async function waitIdle(pid: number, ms: number): Promise<Record<string, number>> {
  const t0 = performance.now()
  const first = threadSched(pid)
  let prev = first
  let pct = Number.NaN
  while (performance.now() - t0 < ms) {
    await sleep(250)
    const now = threadSched(pid)
    pct = ([...schedDelta(prev, now).values()].reduce((a, t) => a + t.runMs, 0) / 250) * 100
    prev = now
    if (pct < 5) break
  }
  const out: Record<string, number> = {
    idle_wait_ms: Math.round(performance.now() - t0),
    idle_cpu_pct: +pct.toFixed(1),
  }
  for (const [name, t] of schedDelta(first, prev))
    if (t.runMs >= 5) out[`idle_busy_${threadKey(name)}_ms`] = +t.runMs.toFixed(1)
  return out
}

/**
 * Sequential gets of random keys in a child process of their own (kv-quiet-client.ts), after the
 * load and the catch-up: the get latency of the store itself, beside the one under load. The
 * harness waits without polling meanwhile. With the server's pid: each server thread's CPU and
 * run-queue wait over the timed gets (`srv_<thread>_cpu_ms`, `_runq_ms`, threads with ≥ 1 ms
 * of either), and the client's (`client_cpu_us_per_get`, `client_runq_ms`): whether anything
 * else ran in the server, and how long the two ends of a get waited for a core.
 */
export async function quietGets(plan: QuietPlan, serverPid?: number): Promise<Record<string, number>> {
  const child = fork(new URL('./kv-quiet-client.ts', import.meta.url), [], {
    execPath: process.execPath,
    execArgv: [],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  try {
    const exited = once(child, 'exit').then(([code]) => {
      throw new Error(`the quiet-get client exited (${code}) without a result`)
    })
    const msg = (): Promise<unknown> => Promise.race([once(child, 'message').then(([m]) => m), exited])
    child.send(plan)
    await msg() // warmed up
    const before = serverPid ? threadSched(serverPid) : new Map()
    const clientBefore = threadSched(child.pid!)
    child.send('go')
    const r = (await msg()) as QuietResult
    const server = serverPid ? schedDelta(before, threadSched(serverPid)) : new Map<string, ThreadSched>()
    const client = schedDelta(clientBefore, threadSched(child.pid!))
    const p = percentilesUs(r.ms)
    const out: Record<string, number> = {
      gets: r.ms.length,
      get_p50_ms: p.p50_us / 1000,
      get_p99_ms: p.p99_us / 1000,
      get_max_ms: +Math.max(...r.ms).toFixed(3),
      client_cpu_us_per_get: +(r.cpuUs / r.ms.length).toFixed(1),
      client_runq_ms: +[...client.values()].reduce((a, t) => a + t.waitMs, 0).toFixed(1),
      ...(r.misses ? { get_misses: r.misses } : {}),
    }
    for (const [name, t] of server)
      if (t.runMs >= 1 || t.waitMs >= 1) {
        out[`srv_${threadKey(name)}_cpu_ms`] = +t.runMs.toFixed(1)
        out[`srv_${threadKey(name)}_runq_ms`] = +t.waitMs.toFixed(1)
      }
    return out
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL')
  }
}

/** The quiet-get row beside a target's load row (same run, same server, measured after the load). */
function quietRow(
  name: string,
  target: TargetName,
  label: string,
  quiet: Record<string, number> | undefined,
): Row {
  const row = emptyRow(name, target, {})
  row.target = `${label} get, quiet`
  if (quiet)
    row.extra = {
      ...quiet,
      get_client: target === 'redis' ? kRedisClient : kOursClient,
      note: 'sequential gets from a client process of its own, after the load, the store caught up and the server idle',
    }
  else row.skipped = 'the load row failed before the quiet gets'
  return row
}

const kOursClient = kSdkClient
const kRedisClient = 'ioredis, 1 connection'

/**
 * A get as an application does it: the SDK's `kv(ns).get(key)` over one kept-alive connection
 * (like the Redis row's one ioredis connection). Client CPU per get, quiet server: `node
 * benchmarks/src/kv-get-client.ts` (kv-get.ts lists the styles it compares).
 */
export function oursGet(server: OursServer): KvGet {
  return sdkGet(server.readApi!, server.operatorToken!, kNs)
}

function kvScenario(name: string, keys: number, needsBig: boolean): Scenario {
  return {
    name,
    group: 'kv',
    description: `kv durable sets/s and get p50/p99 at ${keys.toLocaleString('en-US')} keys, beside Redis SET (appendfsync always)${needsBig ? '; by name or --big' : ''}`,
    quick: false,
    full: true,
    async run(ctx: RunContext): Promise<Row[]> {
      if (needsBig && !ctx.big && !ctx.named.has(name)) {
        const row = emptyRow(name, 'ours', {})
        row.skipped = `loads ${keys.toLocaleString('en-US')} keys first: run it by name or with --big`
        return [row]
      }
      const body: BodySpec = { kind: 'kv-set', ns: kNs, keys }
      const load = { bodyBytes: 0, body, connections: kConnections, stream: streamOf(kNs), drainMs: 30_000 }
      const loadMs = (t0: number) => ({ load_keys_s: Math.round((performance.now() - t0) / 100) / 10 })
      const rows: Row[] = []
      let quietOurs: Record<string, number> | undefined
      let quietRedis: Record<string, number> | undefined
      if (ctx.targets.has('ours')) {
        ctx.log('  ours (no kv subscriber) …')
        rows.push(await measureTarget(ctx, name, 'ours', load))
        ctx.log(`  ours+kv: loading ${keys} keys …`)
        const row = await measureTarget(ctx, name, 'ours', {
          ...load,
          http: true,
          subscribers: [kKvEntry],
          async prepare(ut: UnderTest) {
            const t0 = performance.now()
            await preloadOurs(oursOf(ut), keys)
            return loadMs(t0)
          },
          during(ut: UnderTest) {
            const server = oursOf(ut)
            const watch = watchSubscriber(server, 'kv', {
              catchUpMs: catchUpMs(ctx),
              rateKey: 'applied_per_s',
            })
            const gets = getLoop(oursGet(server), keys)
            const loadDelay = threadDelays(server)
            const applyFrom = applyAccount(server)
            return async (w) => {
              // The gets stop first: a server that died must not leave them spinning.
              const got = await gets(w)
              const delay = await (await loadDelay)()
              const applied = await (await applyFrom)()
              const out = { ...got, get_client: kOursClient, ...delay, ...applied, ...(await watch(w)) }
              // Quiet means quiet: the store has applied the whole backlog (watch() waits at most
              // catchUpMs for it and may give up, with the load's rows still being applied).
              const t0 = performance.now()
              const caughtUp = await waitCaughtUp(server, 'kv', 180_000)
              const waited = Math.round(performance.now() - t0)
              const idle = await waitIdle(server.pid, 30_000)
              const quietDelay = await threadDelays(server)
              const plan: QuietPlan = {
                kind: 'ours',
                port: server.readApi!,
                token: server.operatorToken!,
                ns: kNs,
                keys,
                gets: kQuietGets,
                warm: 300,
              }
              quietOurs = {
                ...(await quietGets(plan, server.pid)),
                ...(await quietDelay()),
                waited_for_apply_ms: waited,
                ...idle,
                ...(caughtUp ? {} : { not_caught_up: 1 }),
              }
              return out
            }
          },
        })
        row.target = 'ours+kv'
        againstIngestOnly(row, rows[0])
        rows.push(row, quietRow(name, 'ours', 'ours+kv', quietOurs))
      }
      if (ctx.targets.has('redis')) {
        ctx.log(`  redis: loading ${keys} keys …`)
        const row = await measureTarget(ctx, name, 'redis', {
          ...load,
          async prepare(ut: UnderTest) {
            const t0 = performance.now()
            await preloadRedis(ut.server.port, keys)
            return loadMs(t0)
          },
          during(ut: UnderTest) {
            const r = new Redis({ host: '127.0.0.1', port: ut.server.port, maxRetriesPerRequest: 0 })
            const get = async (key: string) => (await r.get(key)) !== null
            const gets = getLoop(get, keys)
            return async (w) => {
              const out = { ...(await gets(w)), get_client: kRedisClient }
              r.disconnect()
              quietRedis = await quietGets(
                { kind: 'redis', port: ut.server.port, keys, gets: kQuietGets, warm: 300 },
                ut.server.pid,
              )
              return out
            }
          },
        })
        rows.push(row, quietRow(name, 'redis', 'redis', quietRedis))
      }
      return rows
    },
  }
}

export const kvScenarios: Scenario[] = [
  kvScenario('kv-10k', 10_000, false),
  kvScenario('kv-1m', 1_000_000, true),
]
