/**
 * CPU per record on every thread of a real server while one subscriber works through a backlog:
 * what a derived record costs on its way back into the log (plugin thread → main thread → writer
 * worker → disk). N 8-feature JSON records (the `ai` benchmark rows' bodies) are written once; then,
 * for each case, a fresh server on a copy of that log runs one subscriber from lsn 1 until its lag
 * is 0, and each thread's CPU (/proc/<pid>/task/<tid>/stat, utime + stime) between its first
 * delivered batch and the end is divided by the records delivered in between.
 *
 *   node packages/subscriber-ai/bench/emit-cpu.bench.ts [case ...]
 *   cases: noop, echo (emits one fixed 140 B string per record: the runtime's and host's cost
 *   alone), ai-when (emitWhen score > 520, ~2% emitted), ai (one derived record per input)
 *   MI_BENCH_RECORDS=300000, MI_BENCH_ROUNDS=1, MI_BENCH_ROOT=<another checkout> (its server and
 *   plugins: before/after, alternate the two)
 *
 * Threads are grouped by name: main, writer (mi-writer), parsers (mi-parser-*), pool (the plugin's
 * piscina worker), v8 (V8Worker: concurrent GC/compiler), uv (libuv threadpool), other.
 * The per-emitted-record cost of a thread is (ai − ai-when) or (echo − noop), per record.
 */
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { connect } from '@module-ingest/client'
import { adminRequest } from '@module-ingest/telemetry'
import { FIELDS } from '../test/helpers/fixtures.ts'

const total = Number(process.env.MI_BENCH_RECORDS ?? 300_000)
const rounds = Number(process.env.MI_BENCH_ROUNDS ?? 1)
const root = process.env.MI_BENCH_ROOT ?? fileURLToPath(new URL('../../../', import.meta.url))
const kTick = Number(process.env.CLK_TCK ?? 100)
// The checkout under test's own server (its apps/server CLI, its plugins).
const { startServerProcess } = (await import(
  join(root, 'packages/testing/src/server-process.ts')
)) as typeof import('@module-ingest/testing')

const entry = (name: string, use: string, options: Record<string, unknown>) => ({
  name,
  use,
  streams: ['bench'],
  batch: { maxRecords: 512, maxBytes: 64 << 20, maxWaitMs: 20 },
  options,
})
const plugin = (file: string) => `file://${join(root, 'packages/subscriber-ai/bench', file)}`
const aiOptions = { mapping: { fields: FIELDS } }
const cases: Record<string, () => Record<string, unknown>> = {
  noop: () => entry('noop', plugin('noop.plugin.ts'), {}),
  echo: () => entry('echo', plugin('echo.plugin.ts'), {}),
  'ai-when': () => entry('ai', 'ai', { ...aiOptions, emitWhen: { output: 'score', above: 520 } }),
  ai: () => entry('ai', 'ai', aiOptions),
}
const wanted = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(cases)

/** The scenario's bodies (benchmarks/src/load/bodies.ts, kind json). */
function bodies(): Buffer[] {
  return Array.from({ length: 3600 }, (_, t) => {
    const o: Record<string, number> = {}
    FIELDS.forEach((f, k) => {
      o[f] = Math.round((Math.sin(t / 50 + k) + k) * 1000) / 1000
    })
    return Buffer.from(JSON.stringify(o))
  })
}

async function threadCpu(pid: number): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    try {
      const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      // MI_BENCH_CPU=user|system: one of the two only (system: syscalls such as fdatasync, writev).
      const mode = process.env.MI_BENCH_CPU
      const ticks =
        mode === 'user' ? Number(f[11]) : mode === 'system' ? Number(f[12]) : Number(f[11]) + Number(f[12])
      const us = (ticks * 1e6) / kTick
      out.set(`${tid}:${comm}`, us)
    } catch {
      // the thread ended
    }
  }
  return out
}

function group(comm: string): string {
  if (comm === 'MainThread' || comm === 'node') return 'main'
  if (comm === 'mi-writer') return 'writer'
  if (comm.startsWith('mi-parser')) return 'parsers'
  if (comm === 'V8Worker') return 'v8'
  if (comm.startsWith('libuv-worker')) return 'uv'
  if (comm === 'WorkerThread' || comm.startsWith('[worker') || comm === 'default') return 'pool'
  return `other(${comm})`
}

const kGroups = ['main', 'writer', 'pool', 'parsers', 'v8', 'uv']

async function fill(dataDir: string): Promise<void> {
  const server = await startServerProcess({ dataDir })
  try {
    const token = await server.devToken()
    const items = bodies()
    const conns = 4
    const per = 100
    await Promise.all(
      Array.from({ length: conns }, async (_, ci) => {
        const c = await connect({ port: server.port, module: `pump-${ci}`, auth: { token } })
        const pending: Promise<bigint>[] = []
        const mine = Math.floor(total / conns)
        for (let sent = 0; sent < mine; sent += per) {
          const records = Array.from({ length: Math.min(per, mine - sent) }, (_, k) => ({
            stream: 'bench',
            body: items[(ci * 900 + sent + k) % items.length]!,
          }))
          pending.push(c.sendBatch(records))
          if (pending.length >= 64) await pending.shift()
        }
        await Promise.all(pending)
        await c.close()
      }),
    )
  } finally {
    server.kill('SIGTERM')
    await server.exited
  }
}

interface SubStats {
  name: string
  lagRecords: number
  delivered: number
  emitted: number
}

async function runCase(name: string, base: string, scratch: string): Promise<Record<string, number>> {
  const dataDir = join(scratch, name)
  await rm(dataDir, { recursive: true, force: true })
  await cp(base, dataDir, { recursive: true })
  const sub = cases[name]!() as { name: string }
  // MI_BENCH_PROF=<dir>: a --cpu-prof profile per thread of each case's server; MI_BENCH_NODE_OPTIONS
  // (e.g. --trace-gc): more flags, the server's non-JSON output saved in <scratch>/<case>.out.
  const prof = process.env.MI_BENCH_PROF
  const flags = [
    prof ? `--cpu-prof --cpu-prof-dir=${join(prof, name)}` : '',
    process.env.MI_BENCH_NODE_OPTIONS ?? '',
  ]
  const nodeOptions = flags.join(' ').trim()
  const server = await startServerProcess({
    dataDir,
    config: { subscribers: [sub] },
    ...(nodeOptions ? { env: { NODE_OPTIONS: nodeOptions } } : {}),
  })
  const out: string[] = []
  if (process.env.MI_BENCH_NODE_OPTIONS) {
    server.child.stdout!.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line && !line.startsWith('{')) out.push(line)
    })
  }
  try {
    const stats = async () =>
      (
        (await adminRequest(join(dataDir, 'admin.sock'), 'stats', {}, { timeoutMs: 10_000 })) as {
          subscribers: SubStats[]
        }
      ).subscribers.find((s) => s.name === sub.name)!
    let s = await stats()
    while (s.delivered === 0) {
      await sleep(20)
      s = await stats()
    }
    const c0 = await threadCpu(server.pid)
    const d0 = s.delivered
    const e0 = s.emitted
    const t0 = performance.now()
    // A stats request costs the server a few ms on several threads (every worker's metrics): once a
    // second keeps that out of the per-record numbers.
    while (s.lagRecords > 0 || s.delivered < total) {
      await sleep(1000)
      s = await stats()
    }
    const ms = performance.now() - t0
    const c1 = await threadCpu(server.pid)
    const records = s.delivered - d0
    const row: Record<string, number> = {
      records,
      emitted: s.emitted - e0,
      wall_records_per_s: Math.round((records / ms) * 1000),
    }
    let sum = 0
    for (const [key, us] of c1) {
      const g = group(key.slice(key.indexOf(':') + 1))
      const d = us - (c0.get(key) ?? 0)
      if (process.env.MI_BENCH_THREADS === '1' && d > 0) console.log(`  ${key} ${(d / records).toFixed(3)}`)
      row[g] = (row[g] ?? 0) + d / records
      sum += d / records
    }
    row.total = sum
    return row
  } finally {
    server.kill('SIGTERM')
    await server.exited
    if (out.length > 0)
      await writeFile(join(process.env.MI_BENCH_OUT ?? tmpdir(), `mi-emit-cpu-${name}.out`), out.join('\n'))
  }
}

const scratch = await mkdtemp(join(tmpdir(), 'mi-emit-cpu-'))
try {
  const base = join(scratch, 'base')
  await fill(base)
  console.log(`root ${root}, ${total} records, load ${(await readFile('/proc/loadavg', 'utf8')).trim()}`)
  console.log(
    `${'case'.padEnd(8)} ${[...kGroups, 'total'].map((g) => g.padStart(8)).join('')}  (µs CPU/record)   records/s emitted`,
  )
  for (let r = 0; r < rounds; r++) {
    for (const name of wanted) {
      const row = await runCase(name, base, scratch)
      const cols = [...kGroups, 'total'].map((g) => (row[g] ?? 0).toFixed(2).padStart(8)).join('')
      const others = Object.keys(row).filter((k) => k.startsWith('other'))
      console.log(
        `${name.padEnd(8)} ${cols}  ${String(row.wall_records_per_s).padStart(9)} ${row.emitted}` +
          (others.length ? `  ${others.map((k) => `${k} ${row[k]!.toFixed(2)}`).join(' ')}` : ''),
      )
    }
  }
} finally {
  await rm(scratch, { recursive: true, force: true })
}
