/**
 * KV benchmark, one row per key count: a real `module-ingest serve` with the `kv` subscriber;
 * the keys loaded by BATCHes of 1000 sets, then SETS durable sets (one per DATA frame, MIP/1, group
 * commit, fdatasync, ACK) over those keys, the time until the subscriber has applied them, and get
 * latency (HTTP read API, and the in-process reader). The same against Redis SET under
 * `appendfsync always` when a redis-server binary is found, and `KvStore.apply` alone. One JSON
 * line per measurement. Not part of the test suite.
 *
 *   node packages/kv/bench/kv.bench.ts                       # KEYS=10000,1000000 SETS=100000
 *   KEYS=10000 SETS=200000 PRODUCERS=4 GETS=2000 node packages/kv/bench/kv.bench.ts
 *   node benchmarks/src/run.ts micro:kv                      # the same, from the benchmarks runner
 *   SERVER_ROOT=/tmp/base KEYS=10000 node packages/kv/bench/kv.bench.ts   # another checkout's server
 *
 * Wall-clock rates on a shared, loaded machine are noise: each row also gives the server's CPU
 * time per set / per get (utime+stime of all its threads from /proc, split by thread name: the
 * subscriber's worker thread applies, MainThread ingests, mi-reads serves the HTTP gets) and the load average.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { createOperator, createToken } from '@module-ingest/auth'
import { connect } from '@module-ingest/client'
import { encodeOp, streamOf } from '@module-ingest/kv-protocol'
import { freePort } from '@module-ingest/testing'
import { KvReader } from '../src/read.ts'
import { KvStore } from '../src/store.ts'
import { pct, redisRows, threadCpu } from './support.ts'

const KEYS = (process.env.KEYS ?? '10000,1000000').split(',').map(Number)
const SETS = Number(process.env.SETS ?? 100_000)
const PRODUCERS = Number(process.env.PRODUCERS ?? 4)
const GETS = Number(process.env.GETS ?? 2000)
const LOAD_BATCH = 1000 // ops per BATCH (a transaction; kLimits.txnOps)
// SERVER_ROOT=<another checkout, with node_modules>: run its server instead (before/after in one run).
const root = process.env.SERVER_ROOT ?? new URL('../../../', import.meta.url).pathname
const cli = join(root, 'apps/server/src/cli.ts')
const out = (o: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ ...o, load1: +loadavg()[0]!.toFixed(1) })}\n`)

const dir = mkdtempSync(join(tmpdir(), 'mi-kv-bench-'))
const children: ChildProcess[] = []
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

const opBody = (i: number, txn = 1) =>
  encodeOp(
    { op: 'set', key: `device-${i}`, value: { type: 'json', value: { temp: i % 100, fw: '1.2.3' } } },
    txn,
  )

/** Server CPU µs per unit between two thread samples, in total and per thread name. */
function cpuPer(a: Map<string, number>, b: Map<string, number>, units: number) {
  const per: Record<string, number> = {}
  let total = 0
  for (const [name, us] of b) {
    const d = us - (a.get(name) ?? 0)
    total += d
    if (d / units >= 0.05) per[name] = +(d / units).toFixed(2)
  }
  return { cpuUsPer: +(total / units).toFixed(2), byThread: per }
}

async function moduleIngest(keys: number) {
  const run = join(dir, `mi-${keys}`)
  mkdirSync(run)
  const creds = join(run, 'credentials.yaml')
  const token = (await createToken(creds, { module: 'bench-*', scopes: ['write:kv.*'], kind: 'token' }))
    .secret
  const reader = (await createOperator(creds, { name: 'bench', scopes: ['read:kv.*'] })).token
  const port = await freePort()
  const http = await freePort()
  // Gets go to the reads thread's listener (telemetry.reads); a SERVER_ROOT checkout that predates
  // it (no apps/server/src/reads.ts) serves them on the metrics listener. One that has it serves
  // no kv route on the metrics listener: polling it there never saw the sets applied.
  const reads = existsSync(join(root, 'apps/server/src/reads.ts')) ? await freePort() : null
  const storePath = join(run, 'kv.sqlite')
  const config = join(run, 'mi.json')
  writeFileSync(
    config,
    JSON.stringify({
      dataDir: run,
      listen: `127.0.0.1:${port}`,
      telemetry: {
        metrics: { listen: `127.0.0.1:${http}` },
        ...(reads !== null ? { reads: { listen: `127.0.0.1:${reads}` } } : {}),
        logLevel: 'warn',
      },
      subscribers: [
        {
          name: 'kv',
          use: 'kv',
          streams: ['kv.*'],
          options: { path: storePath },
          batch: { maxRecords: 5000, maxWaitMs: 20 },
        },
      ],
    }),
  )
  // PROF=<dir>: the server writes a CPU profile per thread there (node --cpu-prof).
  const prof = process.env.PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROF}`] : []
  const child = spawn(process.execPath, [...prof, cli, 'serve', '--config', config, '--log-level', 'info'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  await new Promise<void>((resolve) =>
    createInterface({ input: child.stdout! }).on('line', (l) => l.includes('"ServerListening"') && resolve()),
  )
  const pid = child.pid!
  const stop = async () => {
    child.kill('SIGTERM')
    await new Promise((r) => child.once('exit', r))
    rmSync(run, { recursive: true, force: true })
  }
  const api = `http://127.0.0.1:${reads ?? http}`
  const headers = { authorization: `Bearer ${reader}` }
  const stream = streamOf('bench')
  const row = { system: 'module-ingest', keys }
  let lsn = 0
  const applied = async (target: number) => {
    for (;;) {
      const s = (await (await fetch(`${api}/kv/v1/status`, { headers })).json()) as { appliedLsn: number }
      if (s.appliedLsn >= target) return
      await sleep(10)
    }
  }

  // Load: every key once, BATCHes of LOAD_BATCH sets from PRODUCERS connections.
  let c0 = threadCpu(pid)
  let t0 = performance.now()
  await Promise.all(
    Array.from({ length: PRODUCERS }, async (_, p) => {
      const client = await connect({ port, module: `bench-load-${p}`, auth: { token }, window: 64 })
      const inflight: Array<Promise<unknown>> = []
      for (let b = p * LOAD_BATCH; b < keys; b += PRODUCERS * LOAD_BATCH) {
        const n = Math.min(LOAD_BATCH, keys - b)
        const records = Array.from({ length: n }, (_, k) => ({ stream, body: opBody(b + k, n) }))
        inflight.push(client.sendBatch(records))
        if (inflight.length >= 64) await Promise.all(inflight.splice(0, 32))
      }
      await Promise.all(inflight)
      await client.close()
    }),
  )
  const loadAcked = performance.now() - t0
  lsn += keys
  await applied(lsn)
  const loadApplied = performance.now() - t0
  out({
    ...row,
    what: `load: every key once, BATCHes of ${LOAD_BATCH} sets (durable ACK, then applied)`,
    ackedPerSec: Math.round(keys / (loadAcked / 1000)),
    appliedPerSec: Math.round(keys / (loadApplied / 1000)),
    ...cpuPer(c0, threadCpu(pid), keys),
  })

  // Durable sets: one per DATA frame, PRODUCERS pipelining modules, keys spread over all of them.
  const bodies = Array.from({ length: Math.min(keys, SETS) }, (_, i) =>
    opBody(Math.floor((i * keys) / Math.min(keys, SETS))),
  )
  c0 = threadCpu(pid)
  t0 = performance.now()
  await Promise.all(
    Array.from({ length: PRODUCERS }, async (_, p) => {
      const client = await connect({ port, module: `bench-${p}`, auth: { token }, window: 4096 })
      const inflight: Array<Promise<unknown>> = []
      for (let i = p; i < SETS; i += PRODUCERS) {
        inflight.push(client.send(stream, bodies[i % bodies.length]!))
        if (inflight.length >= 4096) await Promise.all(inflight.splice(0, 2048))
      }
      await Promise.all(inflight)
      await client.close()
    }),
  )
  const acked = performance.now() - t0
  const c1 = threadCpu(pid)
  out({
    ...row,
    what: 'durable kv sets (one per DATA frame, ACK after fdatasync)',
    sets: SETS,
    producers: PRODUCERS,
    setsPerSec: Math.round(SETS / (acked / 1000)),
    ...cpuPer(c0, c1, SETS),
  })
  lsn += SETS
  await applied(lsn)
  const done = performance.now() - t0
  out({
    ...row,
    what: 'the same sets applied to the store (from first send; CPU of the whole run per set)',
    setsPerSec: Math.round(SETS / (done / 1000)),
    ...cpuPer(c0, threadCpu(pid), SETS),
  })

  // Get latency over HTTP: sequential, random keys, the server otherwise idle.
  const lat: number[] = []
  c0 = threadCpu(pid)
  for (let i = 0; i < GETS; i++) {
    const k = `device-${Math.floor(Math.random() * keys)}`
    const s = performance.now()
    const r = await fetch(`${api}/kv/v1/get?ns=bench&key=${k}`, { headers })
    await r.arrayBuffer()
    if (r.status !== 200) throw new Error(`get ${k}: ${r.status}`)
    lat.push(performance.now() - s)
  }
  out({
    ...row,
    what: 'kv get over HTTP (ms; CPU per get is the server side)',
    gets: GETS,
    p50: pct(lat, 50),
    p99: pct(lat, 99),
    ...cpuPer(c0, threadCpu(pid), GETS),
  })
  if (process.env.SERVER_ROOT) return stop() // its store file may have another schema
  const direct = new KvReader(storePath)
  const local: number[] = []
  const cpu = process.cpuUsage()
  for (let i = 0; i < GETS * 10; i++) {
    const s = performance.now()
    direct.get('bench', `device-${Math.floor(Math.random() * keys)}`)
    local.push(performance.now() - s)
  }
  const used = process.cpuUsage(cpu)
  direct.close()
  out({
    ...row,
    what: 'kv get in-process KvReader (ms)',
    gets: GETS * 10,
    p50: pct(local, 50),
    p99: pct(local, 99),
    cpuUsPer: +((used.user + used.system) / (GETS * 10)).toFixed(2),
  })
  await stop()
}

/** The store alone: KvStore.apply in-process, deliveries of 5000 (the subscriber's batch). */
function storeOnly(keys: number) {
  const store = new KvStore(join(dir, `apply-only-${keys}.sqlite`), { synchronous: 'full' })
  const recs = Array.from({ length: SETS }, (_, i) => ({
    lsn: i + 1,
    stream: 'kv.bench',
    // Like the server's log: a producer's frames arrive in runs (group commit keeps them together).
    module: `m${Math.floor(i / 1250) % PRODUCERS}`,
    core: '',
    seq: BigInt(i + 1),
    rts: Date.now() * 1000,
    body: opBody(i % keys),
  }))
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < SETS; i += 5000) store.apply(recs.slice(i, i + 5000))
  const s = (performance.now() - t0) / 1000
  const used = process.cpuUsage(cpu)
  store.close()
  out({
    system: 'module-ingest',
    keys,
    what: 'KvStore.apply in-process (no server), deliveries of 5000, synchronous FULL',
    sets: SETS,
    setsPerSec: Math.round(SETS / s),
    cpuUsPer: +((used.user + used.system) / SETS).toFixed(2),
  })
}

for (const keys of KEYS) await moduleIngest(keys)
storeOnly(Math.min(...KEYS))
for (const keys of KEYS)
  await redisRows({ dir, children, keys, sets: SETS, producers: PRODUCERS, gets: GETS, out })
process.exit(0)
