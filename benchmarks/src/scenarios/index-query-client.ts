/**
 * The `index` scenario's query client, in a worker thread of its own (sub-index.ts starts it):
 * the harness's main thread also polls the server's stats, samples /proc and talks to the load
 * generators, and a query answered while that thread was busy would be timed late. Here the
 * client's event loop does nothing else.
 *
 * workerData: { url, token, everyMs }. Message 'stop' → replies with what it measured; times are
 * epoch ms (performance.timeOrigin + now), which the main thread maps onto its own clock.
 */
import { parentPort, workerData } from 'node:worker_threads'

const { url, token, everyMs } = workerData as { url: string; token: string; everyMs: number }
const headers = { authorization: `Bearer ${token}` }
const epoch = () => performance.timeOrigin + performance.now()
const done: Array<{ t: number; ms: number }> = []
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
  try {
    const res = await fetch(url, { headers })
    // The answer is in when its last byte is: parsing the JSON is the client's time.
    const reply = await res.arrayBuffer()
    const ms = epoch() - t
    const body = JSON.parse(Buffer.from(reply).toString()) as {
      series?: Array<{ points?: unknown[]; values?: unknown[] }>
      error?: string
    }
    if (!res.ok) throw new Error(`${res.status} ${body.error ?? ''}`)
    const s = body.series?.[0]
    buckets = s?.points?.length ?? s?.values?.filter((v) => v !== null).length ?? 0
    bytes = reply.byteLength
    done.push({ t, ms })
  } catch (err) {
    failures++
    firstFailure ||= (err as Error).message.slice(0, 100)
    await new Promise((r) => setTimeout(r, 100))
  }
  next = Math.max(next + everyMs, performance.now() - everyMs)
  const wait = next - performance.now()
  if (wait > 0) await new Promise((r) => setTimeout(r, wait))
}
parentPort!.postMessage({ done, buckets, bytes, failures, firstFailure })
