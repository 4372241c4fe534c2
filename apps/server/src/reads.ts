/**
 * The read APIs (kv `/kv/v1/*`, index `/index/v1/*`) served from a thread of their own, on their
 * own listener (`telemetry.reads.listen`).
 *
 * Why: on the main thread these handlers share one event loop with every ingest socket (the
 * engine's listener, the metrics listener, subscriber control). Under load a read — ~50 µs of
 * SQLite — waited milliseconds for its turn (docs/operations.md "Read APIs" has the numbers). One
 * small worker with its own event loop, its own read-only SQLite connections (WAL: they read while
 * the subscribers write) and its own copy of the credentials answers as soon as the request
 * arrives. Read-your-writes needs nothing from main: the applied lsn is in each store file.
 *
 * Credentials: main's engine watches the file; on each reload the worker re-reads its own copy
 * (as the parser threads do), so a revoked operator token stops working here too.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Worker } from 'node:worker_threads'
import type { Logger, Metrics, MetricsSnapshot } from '@module-ingest/telemetry'
import { sendJson } from '@module-ingest/telemetry/json-api'

export interface ReadsWorkerData {
  listen: { host: string; port: number }
  /** The thread's nice value (telemetry.reads.nice). */
  nice: number
  /** kv instances: subscriber name → store file. */
  kv: Array<{ name: string; path: string }>
  /** index instances: subscriber name → index file. */
  indexes: Array<{ name: string; path: string }>
  logDir: string
  credentialsFile: string
}

export interface ReadsThread {
  readonly address: { host: string; port: number }
  /** The engine reloaded the credentials: the thread re-reads its copy. */
  reloadCredentials(): void
  /**
   * Bring the thread's metrics up to date in the server's registry (it also sends them every
   * 5 s), so a stats() reader's histogram window ends now. Resolves within 1 s regardless.
   */
  pullMetrics(): Promise<void>
  /** Close the listener and the store connections, end the thread. Idempotent. */
  close(): Promise<void>
  /** @internal Tests: end the current thread as a crash would (it is restarted). */
  crashForTests(): Promise<void>
}

const WORKER_URL = new URL('./reads-worker.ts', import.meta.url)
/** How long close() waits for the thread to close its listener before terminating it. */
const kCloseMs = 2000
/** Restart backoff after the thread dies: first wait, longest wait. */
const kRestartMs = [1000, 30_000] as const
/** A thread that lived this long died of something new: the backoff starts over. */
const kStableMs = 60_000

type FromWorker =
  | { type: 'listening'; address: { host: string; port: number } }
  | { type: 'failed'; message: string; code?: string }
  | { type: 'reloaded'; generation: number }
  | { type: 'reloadFailed'; message: string }
  | { type: 'metrics'; snapshot: MetricsSnapshot }
  | { type: 'niceRefused'; message: string }
  | { type: 'closed' }

/** A thread that listens: its worker and when it ended. */
interface Spawned {
  worker: Worker
  exited: Promise<number>
  address: { host: string; port: number }
  startedAt: number
}

/** Start one thread; resolves once its listener is bound, rejects (thread gone) when it cannot be. */
async function spawn(data: ReadsWorkerData): Promise<Spawned> {
  const worker = new Worker(WORKER_URL, { workerData: data, name: 'mi-reads' })
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve))
  const address = await new Promise<{ host: string; port: number }>((resolve, reject) => {
    const onMessage = (m: FromWorker) => {
      if (m.type === 'listening') resolve(m.address)
      else if (m.type === 'failed')
        reject(Object.assign(new Error(m.message), m.code ? { code: m.code } : {}))
    }
    worker.on('message', onMessage)
    worker.once('error', reject)
    exited.then((code) => reject(new Error(`the reads thread exited (code ${code}) before listening`)))
  }).catch(async (err) => {
    await worker.terminate()
    throw err
  })
  return { worker, exited, address, startedAt: Date.now() }
}

/**
 * Start the thread; resolves once its listener is bound, rejects (thread gone) when it cannot be.
 * A thread that dies later (an uncaught error, an out-of-memory end) is started again on the same
 * address after kRestartMs[0], doubling up to the last value while restarts keep failing or the
 * thread keeps dying within kStableMs: reads are down meanwhile (connections refused), ingest is not
 * touched, and each exit and restart is logged.
 */
export async function startReadsThread(
  data: ReadsWorkerData,
  logger: Logger,
  /** Where the thread's metrics land (its loop delay, request times): the server's registry. */
  metrics: Metrics,
): Promise<ReadsThread> {
  const log = logger.child({ component: 'reads' })
  let current = await spawn(data)
  // Restarts bind the port the first thread got (the configured one, or the one port 0 chose).
  const again: ReadsWorkerData = { ...data, listen: { host: data.listen.host, port: current.address.port } }
  let closing: Promise<void> | null = null
  let delay: number = kRestartMs[0]
  let metricsWaiters: Array<() => void> = []
  const onMessage = (m: FromWorker) => {
    if (m.type === 'metrics') {
      metrics.mergeFrom('reads', m.snapshot)
      const waiting = metricsWaiters
      metricsWaiters = []
      for (const w of waiting) w()
    } else if (m.type === 'niceRefused')
      log.warn(
        { event: 'ReadsPriorityNotSet', nice: data.nice, err: m.message },
        `telemetry.reads.nice ${data.nice} not applied (needs CAP_SYS_NICE or a nice limit, e.g. systemd LimitNICE=); the reads thread runs at the process's priority`,
      )
    else if (m.type === 'reloaded') log.debug({ event: 'ReadsCredentialsReloaded', generation: m.generation })
    else if (m.type === 'reloadFailed')
      log.error(
        { event: 'AuthCredentialsReloadError', thread: 'reads', err: m.message },
        'credentials not reloaded by the reads thread (it keeps its last good set)',
      )
  }
  // The read APIs are not the data path: a crash of this thread is logged and the thread started
  // again; ingest goes on meanwhile.
  const supervise = (t: Spawned) => {
    t.worker.on('message', onMessage)
    t.worker.on('error', (err) =>
      log.error({ event: 'ReadsThreadFailed', err: err.message }, 'the read APIs thread failed'),
    )
    t.exited.then(async (code) => {
      if (closing) return
      if (Date.now() - t.startedAt >= kStableMs) delay = kRestartMs[0]
      for (;;) {
        log.error(
          { event: 'ReadsThreadExited', code, restartInMs: delay },
          `the read APIs thread exited (code ${code}); reads are down, restarting it in ${delay} ms`,
        )
        await new Promise((r) => setTimeout(r, delay).unref())
        const wait = delay
        delay = Math.min(delay * 2, kRestartMs[1])
        if (closing) return
        try {
          current = await spawn(again)
        } catch (err) {
          log.error({ event: 'ReadsThreadRestartFailed', err: (err as Error).message, waitedMs: wait })
          continue
        }
        if (closing) {
          await stop(current)
          return
        }
        log.info(
          { event: 'ReadsThreadRestarted', port: current.address.port },
          'the read APIs thread is back',
        )
        supervise(current)
        return
      }
    })
  }
  supervise(current)
  log.info(
    { event: 'ReadsListening', host: current.address.host, port: current.address.port },
    `read APIs listening on ${current.address.host}:${current.address.port}`,
  )
  return {
    address: current.address,
    reloadCredentials: () => current.worker.postMessage({ type: 'reload' }),
    pullMetrics() {
      if (closing) return Promise.resolve()
      return new Promise<void>((resolve) => {
        metricsWaiters.push(resolve)
        setTimeout(resolve, 1000).unref()
        current.worker.postMessage({ type: 'metrics' })
      })
    },
    close() {
      closing ??= stop(current)
      return closing
    },
    crashForTests: () => current.worker.terminate().then(() => {}),
  }
}

/** Ask the thread to close its listener and stores; terminate it if it has not within kCloseMs. */
async function stop(t: Spawned): Promise<void> {
  t.worker.postMessage({ type: 'close' })
  const timer = setTimeout(() => void t.worker.terminate(), kCloseMs)
  await t.exited
  clearTimeout(timer)
}

/** The read APIs' paths; on the metrics listener they answer 421 naming the reads listener. */
const kReadPrefixes = ['/kv/v1/', '/index/v1/']

/**
 * For the metrics listener while the reads thread runs: a read API request answers 421 Misdirected
 * Request with the URL to use (not a redirect: clients drop the Authorization header when a
 * redirect changes the port, and would then see a confusing 401).
 */
export function pointToReads(address: { host: string; port: number }) {
  const listenHost = address.host.includes(':') ? `[${address.host}]` : address.host
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = req.url ?? '/'
    if (!kReadPrefixes.some((p) => url.startsWith(p))) return false
    // The host the client reached us by (a wildcard listen address is no place to connect to).
    const asked = /^(\[[^\]]+\]|[^:]+)(:\d+)?$/.exec(req.headers.host ?? '')?.[1]
    const location = `http://${asked ?? listenHost}:${address.port}${url}`
    sendJson(
      res,
      421,
      {
        error: {
          status: 421,
          message: `the read APIs are served on their own listener (telemetry.reads.listen): ${location}`,
          location,
        },
      },
      { location },
    )
    return true
  }
}
