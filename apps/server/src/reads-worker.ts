/**
 * The read APIs' thread (see reads.ts): its own HTTP listener, its own read-only SQLite
 * connections (kv stores, index files) and its own copy of the credentials, so a read never waits
 * behind the ingest sockets the main thread's event loop serves.
 *
 * Messages from main: `reload` (the engine reloaded the credentials file: re-read our copy, as
 * parsers do), `metrics` (send them now) and `close`. To main: `listening`, `failed` (start), `reloaded` / `reloadFailed`,
 * `metrics` (this thread's registry, every `kMetricsMs`), `closed`.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { CredentialStore } from '@module-ingest/auth'
import { createKvReadHandler } from '@module-ingest/kv'
import { setThreadNice } from '@module-ingest/subscriber-runtime/nice'
import { Metrics } from '@module-ingest/telemetry'
import { type FastGet, type HttpHandler, listenHttp } from '@module-ingest/telemetry/http-listener'
import { probeLoopDelayInto } from '@module-ingest/telemetry/loop-delay'
import type { ReadsWorkerData } from './reads.ts'

type Closable = HttpHandler & { close(): Promise<void> }

const data = workerData as ReadsWorkerData
const port = parentPort!
/**
 * How often this thread's metrics go to main unasked (for /metrics scrapes); stats() readers
 * (`top`, the dashboard, benchmarks) pull them. A snapshot costs ~0.4 ms of this thread: a read
 * arriving then waits, so not more often.
 */
const kMetricsMs = 5000

const metrics = new Metrics()
// This thread's event-loop delay, beside main's (mi_main_loop_delay_us): what a read waits here.
const stopProbe = probeLoopDelayInto(metrics, 'reads')
const served = metrics.histogram('mi_reads_request_us', 'Read API requests, arrival to reply written', {
  unit: 'us',
})
const sendMetrics = () => port.postMessage({ type: 'metrics', snapshot: metrics.snapshot() })
const metricsTimer = setInterval(sendMetrics, kMetricsMs)
metricsTimer.unref()

// The same requests' CPU on this thread: wall time well above it is waiting for a core
// (preemption on a busy host), not work a code change would remove. One request in kCpuEvery:
// reading a thread's CPU time is two getrusage calls, a few per cent of a kv get.
const servedCpu = metrics.histogram(
  'mi_reads_request_cpu_us',
  'Read API requests (one in 16), CPU of this thread from arrival to reply written',
  { unit: 'us' },
)
const kCpuEvery = 16
let finished = 0
/** Whether a request starting now has its CPU read: one in kCpuEvery, the first included. */
const cpuNow = () => (finished % kCpuEvery === 0 ? process.threadCpuUsage() : undefined)
function done(arrivedNs: bigint, c0: NodeJS.CpuUsage | undefined) {
  served.recordSince(arrivedNs)
  if (c0) {
    const c = process.threadCpuUsage(c0)
    servedCpu.record(c.user + c.system)
  }
  finished++
}

/** Time each request from its arrival to its reply's last byte handed to the socket. */
const timed: HttpHandler = (_req, res) => {
  const t0 = process.hrtime.bigint()
  const c0 = cpuNow()
  res.once('finish', () => done(t0, c0))
  return false
}

/**
 * The kv get on the listener's fast lane (before node:http), timed the same way: from the
 * arrival of its bytes to its reply handed to the socket. A get the lane declines is timed by
 * `timed` on node:http.
 */
function timedFastGet(fastGet: FastGet) {
  let c0: NodeJS.CpuUsage | undefined
  return {
    fastGet: (url: string, authorization: string | undefined) => {
      c0 = cpuNow()
      return fastGet(url, authorization)
    },
    onFastServed: (arrivedNs: bigint) => done(arrivedNs, c0),
  }
}

/** This thread's own nice value; without the right to lower it, main logs a warning. */
function applyNice(nice: number) {
  try {
    setThreadNice(nice)
  } catch (err) {
    port.postMessage({ type: 'niceRefused', message: (err as Error).message })
  }
}

async function start() {
  applyNice(data.nice)
  const credentials = await CredentialStore.load(data.credentialsFile)
  const verify = (token: string) => credentials.verifyOperator(token)
  const handlers: Closable[] = []
  const kv = data.kv.length > 0 ? createKvReadHandler({ stores: data.kv, verify }) : undefined
  if (kv) handlers.push(kv)
  if (data.indexes.length > 0) {
    // Loaded only when an index is configured, as on the main listener (index-api.ts).
    const { createIndexQueryHandler } = await import('@module-ingest/subscriber-index')
    handlers.push(createIndexQueryHandler({ indexes: data.indexes, logDir: data.logDir, verify }))
  }
  const closeHandlers = async () => {
    for (const h of handlers) await h.close().catch(() => {})
  }
  let listener: Awaited<ReturnType<typeof listenHttp>>
  try {
    listener = await listenHttp({
      host: data.listen.host,
      port: data.listen.port,
      handlers: [timed, ...handlers],
      ...(kv ? timedFastGet(kv.fastGet) : {}),
    })
  } catch (err) {
    await closeHandlers()
    throw err
  }
  port.on('message', (m: { type: string }) => {
    if (m.type === 'metrics') sendMetrics()
    else if (m.type === 'reload')
      credentials.reload().then(
        (info) => port.postMessage({ type: 'reloaded', generation: info.generation }),
        (err: Error) => port.postMessage({ type: 'reloadFailed', message: err.message }),
      )
    else if (m.type === 'close')
      void (async () => {
        await listener.close().catch(() => {})
        await closeHandlers()
        clearInterval(metricsTimer)
        stopProbe()
        sendMetrics()
        port.postMessage({ type: 'closed' })
        port.close()
      })()
  })
  port.postMessage({ type: 'listening', address: listener.address })
}

start().catch((err: Error & { code?: string }) => {
  clearInterval(metricsTimer)
  stopProbe()
  port.postMessage({ type: 'failed', message: err.message, ...(err.code ? { code: err.code } : {}) })
  port.close()
})
