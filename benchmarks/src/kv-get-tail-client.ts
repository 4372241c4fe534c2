/**
 * kv-get-tail.ts's client process (never imported): GETS sequential gets of random keys in one
 * client style (scenarios/kv-get.ts: sdk, agent, fetch; or `undici`, an undici `Client` with
 * pipelining 1, from UNDICI_PATH or the `undici` package, which is not a dependency), warmed up
 * first. For each get it notes its start and duration and, with SCHED=1, the run-queue wait of
 * this thread and of the server's reads thread (`/proc/.../schedstat` read around the get: four
 * more syscalls per get, so CPU per get reads higher) and the reads thread's CPU; GC events come
 * from a PerformanceObserver. One JSON line of totals, then one of the slow gets (> 0.8 ms) with
 * what overlapped each.
 *
 * argv: port token keys gets style; env SRV_PID (the server), SCHED.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { PerformanceObserver, performance } from 'node:perf_hooks'
import { getHeapSpaceStatistics } from 'node:v8'
import { agentGet, fetchGet, type KvGet, sdkGet } from './scenarios/kv-get.ts'

const [port, token, keys, gets] = process.argv.slice(2, 6).map((a, i) => (i === 1 ? a : Number(a))) as [
  number,
  string,
  number,
  number,
]
const style = process.argv[6] ?? 'sdk'
const ns = 'bench'
const kSlowMs = 0.8

const gcs: Array<{ start: number; ms: number }> = []
new PerformanceObserver((l) => {
  for (const e of l.getEntries()) gcs.push({ start: e.startTime, ms: e.duration })
}).observe({ entryTypes: ['gc'] })

async function undiciGet(): Promise<KvGet> {
  const { Client } = (await import(process.env.UNDICI_PATH ?? 'undici')) as {
    Client: new (
      url: string,
      o: object,
    ) => {
      request(o: object): Promise<{ statusCode: number; body: { text(): Promise<string> } }>
    }
  }
  const c = new Client(`http://127.0.0.1:${port}`, { pipelining: 1 })
  const headers = { authorization: `Bearer ${token}` }
  return async (key) => {
    const r = await c.request({ method: 'GET', path: `/kv/v1/get?ns=${ns}&key=${key}`, headers })
    await r.body.text()
    return r.statusCode === 200
  }
}

const styles: Record<string, () => KvGet | Promise<KvGet>> = {
  sdk: () => sdkGet(port, token, ns),
  agent: () => agentGet(port, token, ns),
  fetch: () => fetchGet(port, token, ns),
  undici: undiciGet,
}
const get = await styles[style]!()
const key = () => `device-${Math.floor(Math.random() * keys)}`
for (let i = 0; i < 300; i++) if (!(await get(key()))) throw new Error('miss')

const sched = process.env.SCHED === '1'
const srvPid = Number(process.env.SRV_PID)
const readsTid = readdirSync(`/proc/${srvPid}/task`).find(
  (t) => readFileSync(`/proc/${srvPid}/task/${t}/comm`, 'utf8').trim() === 'mi-reads',
)
/** [run, wait] µs of a thread so far. */
const stat = (path: string) => {
  const [run, wait] = readFileSync(path, 'utf8').split(' ')
  return [Number(run) / 1e3, Number(wait) / 1e3] as const
}
const self = '/proc/thread-self/schedstat'
const reads = `/proc/${srvPid}/task/${readsTid}/schedstat`
const start = new Float64Array(gets)
const ms = new Float64Array(gets)
const clientWait = new Float64Array(gets)
const readsWait = new Float64Array(gets)
const readsRun = new Float64Array(gets)
gcs.length = 0
const young = () => getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')!.space_used_size
const y0 = young()
const c0 = process.cpuUsage()
for (let i = 0; i < gets; i++) {
  const a = sched ? stat(self) : undefined
  const b = sched ? stat(reads) : undefined
  const t = performance.now()
  start[i] = t
  await get(key())
  ms[i] = performance.now() - t
  if (a && b) {
    const a2 = stat(self)
    const b2 = stat(reads)
    clientWait[i] = a2[1] - a[1]
    readsWait[i] = b2[1] - b[1]
    readsRun[i] = b2[0] - b[0]
  }
}
const cpu = process.cpuUsage(c0)
// Without a collection meanwhile (a large --max-semi-space-size), the heap allocated per get.
const heapPerGet = Math.round((young() - y0) / gets)
const sorted = [...ms].sort((a, b) => a - b)
const slow = []
for (let i = 0; i < gets; i++)
  if (ms[i]! > kSlowMs) {
    const gc = gcs.find((g) => g.start < start[i]! + ms[i]! && g.start + g.ms > start[i]!)
    slow.push({
      ms: +ms[i]!.toFixed(3),
      gc_ms: gc ? +gc.ms.toFixed(3) : 0,
      client_wait_us: Math.round(clientWait[i]!),
      reads_wait_us: Math.round(readsWait[i]!),
      reads_run_us: Math.round(readsRun[i]!),
    })
  }
const half = (s: { ms: number }, us: number) => us > s.ms * 500
console.log(
  JSON.stringify({
    style,
    client_cpu_us_per_get: +((cpu.user + cpu.system) / gets).toFixed(1),
    heap_bytes_per_get: heapPerGet,
    p50_ms: +sorted[gets >> 1]!.toFixed(3),
    p99_ms: +sorted[Math.floor(gets * 0.99)]!.toFixed(3),
    max_ms: +sorted.at(-1)!.toFixed(3),
    client_gcs: gcs.length,
    slow: slow.length,
    slow_in_client_gc: slow.filter((s) => s.gc_ms > 0).length,
    ...(sched
      ? {
          slow_client_waited_half: slow.filter((s) => half(s, s.client_wait_us)).length,
          slow_reads_waited_half: slow.filter((s) => half(s, s.reads_wait_us)).length,
        }
      : {}),
  }),
)
console.log(JSON.stringify(slow))
