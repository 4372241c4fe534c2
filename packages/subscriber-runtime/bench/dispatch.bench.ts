/**
 * What: fan-out throughput and CPU cost of the subscriber runtime — log read → filter → batch →
 * encode → move into a piscina worker → decode → no-op handle() → offset commit — per record.
 * Rows: a dry run (read + batch only, no workers), a no-op plugin at batch sizes 100/500/1000 (or `sizes`) and
 * concurrency 1/2, and a plugin emitting one derived record per input into a host emit that takes
 * `emitMs` (standing in for a durable append). Not part of the test suite.
 *
 * Columns: records/s and body MB/s (wall clock: meaningless on a loaded box, compare within a run);
 * main_us (main-thread CPU µs per record: read, batch, encode, bookkeeping, process.threadCpuUsage);
 * worker_us (plugin threads' CPU µs per record after init: decode + handle, reported by the plugin);
 * proc_us (whole process incl. GC helpers, the libuv pool and thread start-up, process.cpuUsage).
 *
 * commits: offset commits during the row (each a file write and two fsyncs).
 *
 * Run: cd packages/subscriber-runtime && node bench/dispatch.bench.ts [records=400000] [bodyBytes=64] [emitMs=5] [sizes=100,500,1000]
 * MI_BENCH_PROFILE=<file>: also write a CPU profile of the main thread during the no-op batch-500 row.
 * Needs: nothing external; writes a temporary log under os.tmpdir().
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openLog } from '@module-ingest/log'
import { startSubscribers } from '../src/index.ts'

const records = Number(process.argv[2] ?? 400_000)
const bodyBytes = Number(process.argv[3] ?? 64)
const emitMs = Number(process.argv[4] ?? 5)
/** The no-op rows' batch.maxRecords (concurrency 1), e.g. `1,10,64` for the per-batch cost. */
const sizes = (process.argv[5] ?? '100,500,1000').split(',').map(Number)
const dir = mkdtempSync(join(tmpdir(), 'mi-subrt-bench-'))
const plugin = fileURLToPath(new URL('./_noop-plugin.ts', import.meta.url))
const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {}, child: () => silent }

const log = await openLog(dir)
const body = Buffer.alloc(bodyBytes, 7)
for (let i = 0; i < records; i += 50) {
  log.append({
    module: `m${(i / 50) % 16}`,
    core: '',
    seq: BigInt(i / 50 + 1),
    rts: Date.now() * 1000,
    records: Array.from({ length: 50 }, (_, k) => ({
      stream: k % 2 ? 'sensors.temp' : 'sensors.rpm',
      ts: i + k,
      body,
    })),
  })
}
await log.sync()
await log.close()

interface Row {
  label: string
  maxRecords: number
  concurrency: number
  dryRun?: boolean
  emit?: boolean
}
const plan: Row[] = [
  { label: 'warm-up (not reported)', maxRecords: 500, concurrency: 1 },
  { label: 'dry run', maxRecords: 1000, concurrency: 1, dryRun: true },
  ...sizes.map((maxRecords) => ({ label: 'no-op', maxRecords, concurrency: 1 })),
  { label: 'no-op', maxRecords: 1000, concurrency: 2 },
  { label: `emit 1:1, host emit ${emitMs} ms`, maxRecords: 500, concurrency: 1, emit: true },
]
const rows: Record<string, unknown>[] = []
const load0 = loadavg()[0]!
let run = 0
for (const p of plan) {
  const name = `b${run++}`
  let workerCpuUs = 0
  let emitted = 0
  let commits = 0
  const profile = process.env.MI_BENCH_PROFILE && p.label === 'no-op' && p.maxRecords === 500
  const session = profile ? new Session() : undefined
  if (session) {
    session.connect()
    await session.post('Profiler.enable')
    await session.post('Profiler.start')
  }
  const proc0 = process.cpuUsage()
  const main0 = process.threadCpuUsage()
  const t0 = performance.now()
  const rt = await startSubscribers({
    dataDir: dir,
    logger: silent as never,
    emit: async (recs) => {
      emitted += recs.length
      if (emitMs > 0) await new Promise((r) => setTimeout(r, emitMs))
    },
    metrics: {
      offsetCommitted: () => {
        commits++
      },
      pluginMetric: (_sub, _kind, metric, values) => {
        if (metric === 'thread_cpu_us') workerCpuUs += values[0] ?? 0
      },
    },
    dryRun: p.dryRun ?? false,
    subscribers: [
      {
        name,
        use: plugin,
        concurrency: p.concurrency,
        batch: { maxRecords: p.maxRecords, maxBytes: 8 << 20, maxWaitMs: 5 },
        options: { emit: p.emit ?? false },
      },
    ],
  })
  while (rt.stats()[0]!.ackedLsn <= records) await new Promise((r) => setTimeout(r, 2))
  const ms = performance.now() - t0
  const main = process.threadCpuUsage(main0)
  const proc = process.cpuUsage(proc0)
  if (session) {
    writeFileSync(
      process.env.MI_BENCH_PROFILE!,
      JSON.stringify((await session.post('Profiler.stop')).profile),
    )
    session.disconnect()
  }
  await rt.close()
  if (run === 1) continue
  rows.push({
    row: p.label,
    maxRecords: p.maxRecords,
    concurrency: p.concurrency,
    records_per_s: Math.round((records / ms) * 1000),
    body_mb_per_s: +((records * bodyBytes) / 1e3 / ms).toFixed(1),
    main_us: +((main.user + main.system) / records).toFixed(2),
    worker_us: p.dryRun ? 0 : +(workerCpuUs / records).toFixed(2),
    proc_us: +((proc.user + proc.system) / records).toFixed(2),
    commits,
    ...(p.emit ? { emitted } : {}),
  })
}
console.log(
  `records=${records} bodyBytes=${bodyBytes} node=${process.version} loadavg(1m) before=${load0.toFixed(1)} after=${loadavg()[0]!.toFixed(1)}`,
)
console.table(rows)
rmSync(dir, { recursive: true, force: true })
