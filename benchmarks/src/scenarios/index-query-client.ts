/**
 * The `index` scenario's query client, in a worker thread of its own (sub-index.ts starts it):
 * the harness's main thread also polls the server's stats, samples /proc and talks to the load
 * generators, and a query answered while that thread was busy would be timed late. Here the
 * client's event loop does nothing else. Requests go over one keep-alive node:http socket, not
 * `fetch`: undici's per-request objects cost the client about twice the CPU (kv-get-client.ts has
 * the numbers), and on this 2-core host a client waiting for a core is timed as server latency.
 *
 * Per query it also notes when the reply's head arrived (`ttfb`) and this thread's schedstat so
 * far, so the harness reports the client's CPU per query (request, reply, JSON.parse, timers) and
 * how long it was runnable but waiting for a core: the rest of a query's time it waited for the
 * server. Only over the window: a running thread's own CPU time, from process.threadCpuUsage or
 * from schedstat, advances at scheduler ticks (a 0.6 ms busy span reads 0 in most tries, else
 * several ms), so one query's delta means nothing while the sum over hundreds does.
 *
 * With `nice` the thread sets its own nice value first (Linux: per thread, like the server's reads
 * thread; sub-index.ts passes -5), so that on a 2-core host shared with the load generators the
 * client is not the one queued behind them; the row says which it ran at.
 *
 * workerData: { url, token, everyMs, nice? }. Message 'stop' → replies with what it measured;
 * times are epoch ms (performance.timeOrigin + now), which the main thread maps onto its own clock.
 */
import { readFileSync, readlinkSync } from 'node:fs'
import http from 'node:http'
import { getPriority, setPriority } from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'

const { url, token, everyMs, nice } = workerData as {
  url: string
  token: string
  everyMs: number
  nice?: number
}

/**
 * This thread's nice value, after setting it to `nice` when given. A value below the current one
 * needs CAP_SYS_NICE (root here): without it the thread keeps its own, which the row reports.
 */
function threadNice(): number {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1))
  try {
    if (nice !== undefined && getPriority(tid) !== nice) setPriority(tid, nice)
  } catch {
    // EACCES: not allowed to raise the priority; measured at the harness's.
  }
  return getPriority(tid)
}
const niceNow = threadNice()
const headers = { authorization: `Bearer ${token}` }
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })

/** One GET: status, the whole reply body, and when its head arrived (epoch ms). */
function get(): Promise<{ status: number; reply: Buffer; headAt: number }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent, headers }, (res) => {
        const headAt = epoch()
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.once('end', () => resolve({ status: res.statusCode ?? 0, reply: Buffer.concat(chunks), headAt }))
        res.once('error', reject)
      })
      .once('error', reject)
  })
}
const epoch = () => performance.timeOrigin + performance.now()
/** This thread's schedstat so far: ns on a CPU and ns runnable but waiting for one. */
const sched = (): [number, number] => {
  const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ').map(Number)
  return [run!, wait!]
}
/**
 * Per query: start (epoch ms), latency and time to the reply's head (ms), and this thread's
 * schedstat so far at its start (ns): the harness takes the difference over the window (timers,
 * sockets and GC between queries included).
 */
const done: Array<{ t: number; ms: number; ttfbMs: number; runNs: number; waitNs: number }> = []
let buckets = 0
let bytes = 0
let failures = 0
let firstFailure = ''
let stopped = false

parentPort!.once('message', () => {
  stopped = true
})

// Started on a fixed schedule (every everyMs from the first), not everyMs after the previous one
// started: a late timer is made up by the next start, so the window holds its ≥ 500 queries.
// Never more than one behind (no burst after a stall). Paced like a dashboard, not back to back:
// a faster server must not mean more queries taking CPU from the ingest and the index.
let next = performance.now()
while (!stopped) {
  const t = epoch()
  const [runNs, waitNs] = sched()
  try {
    // The answer is in when its last byte is: parsing the JSON is the client's time.
    const { status, reply, headAt } = await get()
    const ms = epoch() - t
    const body = JSON.parse(reply.toString()) as {
      series?: Array<{ points?: unknown[]; values?: unknown[] }>
      error?: string
    }
    if (status !== 200) throw new Error(`${status} ${body.error ?? ''}`)
    const s = body.series?.[0]
    buckets = s?.points?.length ?? s?.values?.filter((v) => v !== null).length ?? 0
    bytes = reply.byteLength
    done.push({ t, ms, ttfbMs: headAt - t, runNs, waitNs })
  } catch (err) {
    failures++
    firstFailure ||= (err as Error).message.slice(0, 100)
    await new Promise((r) => setTimeout(r, 100))
  }
  next = Math.max(next + everyMs, performance.now() - everyMs)
  const wait = next - performance.now()
  if (wait > 0) await new Promise((r) => setTimeout(r, wait))
}
parentPort!.postMessage({ done, buckets, bytes, failures, firstFailure, nice: niceNow })
