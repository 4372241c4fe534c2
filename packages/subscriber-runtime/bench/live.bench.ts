/**
 * What: the subscriber runtime's cost while ingest runs — a writer thread appends records at a
 * fixed rate (groups of `group` records, the log's own group commit) and signals each durable move
 * the way the engine does (a SharedArrayBuffer doorbell, `durableSignal` as a subscribe function);
 * a no-op subscriber keeps up. Reports the main thread's CPU per delivered record (the writer runs
 * on its own thread and is not counted), the plugin thread's, batches delivered and their mean
 * size, and the delay from append to handle() (p50/p99/max over batches' oldest record).
 *
 * Run: cd packages/subscriber-runtime && node bench/live.bench.ts [rate=100000] [seconds=5] [group=100] [maxWaitMs=50]
 * MI_BENCH_PROFILE=<file>: also write a CPU profile of the main thread over the measured window.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { openLog } from '@module-ingest/log'
import { profileFromEnv } from './_profile.ts'

interface Setup {
  dir: string
  rate: number
  seconds: number
  group: number
  sab: SharedArrayBuffer
}

if (!isMainThread) {
  // The writer: appends at `rate`, publishes durable moves (slot 0 counts them, f64 at 8 is the lsn).
  const { dir, rate, seconds, group, sab } = workerData as Setup
  const word = new Int32Array(sab, 0, 1)
  const lsn = new Float64Array(sab, 8, 1)
  const log = await openLog(dir)
  log.onDurable((d) => {
    lsn[0] = d
    Atomics.add(word, 0, 1)
    Atomics.notify(word, 0)
  })
  const body = Buffer.alloc(64, 7)
  const t0 = performance.now()
  let sent = 0
  let seq = 0n
  const total = rate * seconds
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate))
    while (sent + group <= due) {
      log.append({
        module: `m${Number(seq % 16n)}`,
        core: '',
        seq: ++seq,
        rts: Date.now() * 1000,
        records: Array.from({ length: group }, (_, k) => ({ stream: 'sensors.temp', ts: sent + k, body })),
      })
      sent += group
    }
    await new Promise((r) => setTimeout(r, 1))
  }
  await log.sync()
  await log.close()
  parentPort!.postMessage(sent)
} else {
  const { startSubscribers } = await import('../src/index.ts')
  const rate = Number(process.argv[2] ?? 100_000)
  const seconds = Number(process.argv[3] ?? 5)
  const group = Number(process.argv[4] ?? 100)
  const maxWaitMs = Number(process.argv[5] ?? 50)
  const dir = mkdtempSync(join(tmpdir(), 'mi-subrt-live-'))
  const plugin = fileURLToPath(new URL('./_noop-plugin.ts', import.meta.url))
  const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {}, child: () => silent }
  const sab = new SharedArrayBuffer(16)
  const word = new Int32Array(sab, 0, 1)
  const durable = new Float64Array(sab, 8, 1)
  // Like the engine's onDurable: one Atomics.waitAsync loop while anyone listens.
  const listeners = new Set<(lsn: number) => void>()
  let running = false
  const onDurable = (l: (lsn: number) => void) => {
    listeners.add(l)
    if (!running) {
      running = true
      void (async () => {
        while (listeners.size > 0) {
          const seen = Atomics.load(word, 0)
          const r = Atomics.waitAsync(word, 0, seen, 1000)
          if (r.async) await r.value
          if (Atomics.load(word, 0) !== seen) for (const f of listeners) f(durable[0]!)
        }
        running = false
      })()
    }
    return () => listeners.delete(l)
  }
  // An empty log first, so the reader opens before the writer starts.
  await (await openLog(dir)).close()
  let workerCpuUs = 0
  const delays: number[] = []
  const rt = await startSubscribers({
    dataDir: dir,
    logger: silent as never,
    emit: async () => {},
    durableSignal: onDurable,
    metrics: {
      pluginMetric: (_s, _k, name, values) => {
        if (name === 'thread_cpu_us') workerCpuUs += values[0] ?? 0
        if (name === 'delay_us') delays.push(...values)
      },
    },
    subscribers: [
      {
        name: 'live',
        use: plugin,
        batch: { maxRecords: 500, maxBytes: 8 << 20, maxWaitMs },
        options: { delay: true },
      },
    ],
  })
  const load0 = loadavg()[0]!
  const stopProfile = await profileFromEnv()
  const main0 = process.threadCpuUsage()
  const writer = new Worker(new URL(import.meta.url), {
    workerData: { dir, rate, seconds, group, sab } satisfies Setup,
  })
  const sent: number = await new Promise((resolve, reject) => {
    writer.once('message', resolve)
    writer.once('error', reject)
  })
  while (rt.stats()[0]!.ackedLsn <= sent) await new Promise((r) => setTimeout(r, 5))
  const main = process.threadCpuUsage(main0)
  await stopProfile()
  const s = rt.stats()[0]!
  await rt.close()
  await writer.terminate()
  delays.sort((a, b) => a - b)
  const pct = (p: number) =>
    Math.round(delays[Math.min(delays.length - 1, Math.floor(p * delays.length))]! / 1000)
  console.log(
    `rate=${rate}/s seconds=${seconds} group=${group} maxWaitMs=${maxWaitMs} node=${process.version} loadavg(1m) before=${load0.toFixed(1)} after=${loadavg()[0]!.toFixed(1)}`,
  )
  console.table([
    {
      records: sent,
      batches: s.deliveredBatches,
      mean_batch: Math.round(sent / s.deliveredBatches),
      main_us: +((main.user + main.system) / sent).toFixed(2),
      worker_us: +(workerCpuUs / sent).toFixed(2),
      delay_p50_ms: pct(0.5),
      delay_p99_ms: pct(0.99),
      delay_max_ms: Math.round(delays.at(-1)! / 1000),
    },
  ])
  rmSync(dir, { recursive: true, force: true })
}
