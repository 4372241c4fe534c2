/**
 * What: a backlog catch-up's cost to the main thread. A log is filled with `mib` MiB of 1 KiB
 * records (appends of 32, like the s3 benchmark's ingest), then a no-op subscriber with the s3
 * benchmark's catch-up batches (100,000 records / 64 MiB) reads it from the start while the main
 * thread's event-loop delay is sampled: what an ingest socket on that thread would wait for
 * (the server reads and acks MIP/1 connections there). Reports MB/s of bodies, the loop delay
 * (perf_hooks, 1 ms resolution; p50/p99/max), the longest gap between two turns of a 1 ms timer,
 * the main thread's CPU time between two consecutive event-loop turns (a setImmediate probe that
 * re-arms itself; CPU, not wall, so other processes on a loaded box do not count: p99/max), and
 * CPU seconds per thread of the process (/proc/self/task/*\/stat) over the catch-up.
 *
 * Run: cd packages/subscriber-runtime && node bench/catchup.bench.ts [mib=512] [maxMiB=64]
 * MI_BENCH_THREAD=1: the runtime on its own thread (startSubscribersThread, as the server runs it),
 * so the main thread's numbers are what is left for sockets. The clock starts once the runtime
 * started (either way: a thread's boot is not catch-up). Read `main` CPU with care: the per-turn
 * probe re-arms itself every turn, so an idle main thread spins and its CPU is the probe's (and it
 * competes with the runtime's thread for a core); MI_BENCH_TURN_PROBE=0 leaves the probe out.
 * MI_BENCH_PROFILE=<file>: also write a CPU profile of the main thread over the catch-up.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { openLog } from '@module-ingest/log'
import { startSubscribers, startSubscribersThread } from '../src/index.ts'
import { profileFromEnv } from './_profile.ts'

const mib = Number(process.argv[2] ?? 512)
const maxMiB = Number(process.argv[3] ?? 64)
const dir = mkdtempSync(join(tmpdir(), 'mi-subrt-catchup-'))
const plugin = fileURLToPath(new URL('./_noop-plugin.ts', import.meta.url))
const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {}, child: () => silent }

/** utime+stime in s per thread name (tid when unnamed) of this process. */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>()
  const tick = 100 // USER_HZ
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
      const close = stat.lastIndexOf(')')
      const name = stat.slice(stat.indexOf('(') + 1, close)
      const f = stat.slice(close + 2).split(' ')
      const key = tid === String(process.pid) ? 'main' : name
      out.set(key, (out.get(key) ?? 0) + (Number(f[11]) + Number(f[12])) / tick)
    } catch {}
  }
  return out
}

// Fill: appends of 32 × 1 KiB records, group-committed by the log (flush 'none': this is setup).
const body = Buffer.alloc(1024, 0x78)
const records = Math.round((mib * 2 ** 20) / 1024)
{
  const log = await openLog(dir, { flush: 'none' })
  let seq = 0n
  for (let sent = 0; sent < records; sent += 32) {
    log.append({
      module: `m${Number(seq % 8n)}`,
      core: '',
      seq: ++seq,
      rts: Date.now() * 1000,
      records: Array.from({ length: 32 }, (_, k) => ({ stream: 'bench', ts: sent + k, body })),
    })
    if (sent % (32 * 1024) === 0) await new Promise((r) => setImmediate(r))
  }
  await log.sync()
  await log.close()
}

const h = monitorEventLoopDelay({ resolution: 1 })
let maxGap = 0
let lastTick = performance.now()
const gapTimer = setInterval(() => {
  const now = performance.now()
  maxGap = Math.max(maxGap, now - lastTick)
  lastTick = now
}, 1)
// Main-thread CPU between two turns of the loop (the probe runs once per turn, in the check phase).
const turns: number[] = []
let probing = true
let lastCpu = process.threadCpuUsage()
const probe = () => {
  const now = process.threadCpuUsage()
  turns.push(now.user + now.system - lastCpu.user - lastCpu.system)
  lastCpu = now
  if (probing) setImmediate(probe)
}
const load0 = loadavg()[0]!
const stopProfile = await profileFromEnv()
const onThread = process.env.MI_BENCH_THREAD === '1'
const rt = await (onThread ? startSubscribersThread : startSubscribers)({
  dataDir: dir,
  logger: silent as never,
  emit: async () => {},
  subscribers: [
    {
      name: 'catchup',
      use: plugin,
      batch: { maxRecords: 100_000, maxBytes: maxMiB << 20, maxWaitMs: 1000 },
    },
  ],
})
const cpu0 = threadCpu()
const t0 = performance.now()
h.enable()
lastTick = performance.now()
maxGap = 0
turns.length = 0
lastCpu = process.threadCpuUsage()
// MI_BENCH_TURN_PROBE=0: no per-turn probe, so the main thread's CPU is what the catch-up costs it
// (and, on the thread, it does not spin against the runtime for a core); turn_cpu_* are then empty.
const turnProbe = process.env.MI_BENCH_TURN_PROBE !== '0'
if (turnProbe) setImmediate(probe)
// On the thread, stats() is a snapshot up to 250 ms old; resume() of a running subscriber changes
// nothing and brings fresh stats.
const acked = async () => {
  if (onThread) await rt.resume('catchup')
  return rt.stats()[0]!.ackedLsn
}
while ((await acked()) <= records) await new Promise((r) => setTimeout(r, 5))
const secs = (performance.now() - t0) / 1000
h.disable()
probing = false
clearInterval(gapTimer)
// A copy: the probe already queued for the next turn still pushes one more.
const turnCpu = turns.slice().sort((a, b) => a - b)
const cpu1 = threadCpu()
await stopProfile()
await rt.close()
rmSync(dir, { recursive: true, force: true })

const ms = (ns: number) => +(ns / 1e6).toFixed(1)
console.log(
  `backlog=${mib} MiB batch.maxBytes=${maxMiB} MiB ${onThread ? 'thread' : 'main thread'} node=${process.version} loadavg(1m) before=${load0.toFixed(2)} after=${loadavg()[0]!.toFixed(2)}`,
)
console.table([
  {
    mb_per_s: Math.round((records * 1024) / 1e6 / secs),
    loop_delay_p50_ms: ms(h.percentile(50)),
    loop_delay_p99_ms: ms(h.percentile(99)),
    loop_delay_max_ms: ms(h.max),
    timer_gap_max_ms: +maxGap.toFixed(1),
    turn_cpu_p99_ms: +(turnCpu[Math.floor(turnCpu.length * 0.99)]! / 1000).toFixed(2),
    turn_cpu_p999_ms: +(turnCpu[Math.floor(turnCpu.length * 0.999)]! / 1000).toFixed(2),
    turn_cpu_max_ms: +(turnCpu.at(-1)! / 1000).toFixed(2),
    turns_over_5ms: turnCpu.filter((us) => us > 5000).length,
  },
])
const cpu: Record<string, number> = {}
for (const [k, v] of cpu1) {
  const d = v - (cpu0.get(k) ?? 0)
  if (d > 0.01) cpu[k] = +d.toFixed(2)
}
console.log('CPU s per thread over the catch-up:', cpu)
