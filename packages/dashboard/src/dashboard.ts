/**
 * The dashboard: a sampler that turns the server's stats() into samples once per interval, a
 * bounded history of them, and an HttpHandler serving the page, its scripts and the SSE stream.
 *
 *   GET /dashboard          the page (static HTML)
 *   GET /dashboard/app.js   the page's script; /dashboard/uplot.js, /dashboard/uplot.css from npm `uplot`
 *   GET /dashboard/events   text/event-stream: the kept history on connect (or what follows
 *                           Last-Event-ID), then one `sample` event per interval
 */
import { readFileSync } from 'node:fs'
import { statfs } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import type { HttpHandler } from '@module-ingest/telemetry'
import { History } from './history.ts'
import { type Sample, type StatsLike, toSample } from './sample.ts'
import { SseClient } from './sse.ts'

export interface DashboardOptions {
  /** The server's stats(). */
  stats: () => Promise<StatsLike>
  /** Directory whose file system's free space is shown (the data directory). */
  dataDir?: string
  /** Sampling period; 250..1000 ms keeps the page at 1–4 Hz. Default 1000. */
  intervalMs?: number
  /** How much history is kept in memory. Default 15 minutes. */
  historyMs?: number
  /** Access check for every dashboard request; false answers 401. Default: allow. */
  authorize?: (req: IncomingMessage) => boolean
  /** Called when a sample fails (stats() threw); the sampler keeps going. */
  onError?: (err: Error) => void
}

export interface Dashboard {
  readonly handler: HttpHandler
  readonly history: History<Sample>
  /** Open SSE streams. */
  clients(): number
  /** The open streams themselves (tests and diagnostics: dropped/written counts). */
  streams(): SseClient[]
  /** Take one sample now (also what the timer calls). */
  sample(): Promise<Sample>
  /** Stop sampling and end every open stream (call before closing the HTTP listener). */
  close(): Promise<void>
}

const require = createRequire(import.meta.url)
const kPublic = new URL('../public/', import.meta.url)

interface Asset {
  type: string
  body: Buffer
}

function assets(): Map<string, Asset> {
  const html = { type: 'text/html; charset=utf-8', body: readFileSync(new URL('index.html', kPublic)) }
  return new Map([
    ['/dashboard', html],
    ['/dashboard/', html],
    [
      '/dashboard/app.js',
      { type: 'text/javascript; charset=utf-8', body: readFileSync(new URL('app.js', kPublic)) },
    ],
    [
      '/dashboard/uplot.js',
      {
        type: 'text/javascript; charset=utf-8',
        body: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')),
      },
    ],
    [
      '/dashboard/uplot.css',
      { type: 'text/css; charset=utf-8', body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')) },
    ],
  ])
}

export function startDashboard(options: DashboardOptions): Dashboard {
  const intervalMs = options.intervalMs ?? 1000
  if (!Number.isInteger(intervalMs) || intervalMs < 250 || intervalMs > 60_000)
    throw new RangeError('intervalMs must be an integer in 250..60000')
  const historyMs = options.historyMs ?? 15 * 60_000
  const history = new History<Sample>(Math.max(1, Math.ceil(historyMs / intervalMs)))
  const files = assets()
  const clients = new Set<SseClient>()
  const authorize = options.authorize ?? (() => true)
  let closed = false

  const sample = async (): Promise<Sample> => {
    const stats = await options.stats()
    let free: number | null = null
    if (options.dataDir) {
      try {
        const s = await statfs(options.dataDir)
        free = s.bavail * s.bsize
      } catch {
        free = null
      }
    }
    const s = toSample(stats, history.latest()?.value, Date.now(), free)
    const id = history.push(s)
    const data = JSON.stringify(s)
    for (const c of clients) c.send(id, data, 'sample')
    return s
  }

  // One sample at a time: a slow stats() (loaded machine) skips ticks instead of piling up.
  let busy = false
  const timer = setInterval(() => {
    if (busy || closed) return
    busy = true
    sample()
      .catch((err: Error) => options.onError?.(err))
      .finally(() => {
        busy = false
      })
  }, intervalMs)
  timer.unref()

  const events = (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    })
    const client = new SseClient(res)
    clients.add(client)
    const done = () => clients.delete(client)
    res.on('close', done)
    req.on('close', done)
    res.write(`retry: ${Math.max(1000, intervalMs)}\n\n`)
    // History first, as one event: a page opened late (or reconnecting) draws the past at once.
    const last = Number(req.headers['last-event-id'] ?? 0)
    const past = history.since(Number.isFinite(last) && last > 0 ? last : 0)
    client.sendNow(
      history.lastId,
      JSON.stringify({ intervalMs, samples: past.map((p) => p.value) }),
      'history',
    )
  }

  const handler: HttpHandler = (req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string
    if (path !== '/dashboard' && !path.startsWith('/dashboard/')) return false
    if (closed) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('shutting down\n')
      return true
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n')
      return true
    }
    if (!authorize(req)) {
      res
        .writeHead(401, { 'www-authenticate': 'Bearer realm="module-ingest"', 'content-type': 'text/plain' })
        .end('a bearer token with a read or admin scope is required\n')
      return true
    }
    if (path === '/dashboard/events') {
      events(req, res)
      return true
    }
    const file = files.get(path)
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
      return true
    }
    res.writeHead(200, {
      'content-type': file.type,
      'content-length': file.body.length,
      'cache-control': 'no-cache',
    })
    res.end(req.method === 'HEAD' ? undefined : file.body)
    return true
  }

  return {
    handler,
    history,
    clients: () => clients.size,
    streams: () => [...clients],
    sample,
    async close() {
      closed = true
      clearInterval(timer)
      for (const c of clients) c.end()
      clients.clear()
    },
  }
}
