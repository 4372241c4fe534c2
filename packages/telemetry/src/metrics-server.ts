import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Metrics } from './metrics.ts'
import { kPrometheusContentType } from './prometheus.ts'

export interface MetricsServerOptions {
  host?: string
  /** 0 picks a free port (tests). */
  port: number
  metrics: Metrics
  /** /healthz answers 200 while this returns true (default: always), 503 otherwise. */
  healthy?: () => boolean
  /**
   * More routes on the same listener (query APIs, dashboards), tried in order before the built-in
   * ones. A handler returns true when it answered the request. The host wires them; this server
   * knows none of them.
   */
  handlers?: HttpHandler[]
}

/** One route group on the HTTP listener: answer and return true, or return false to pass. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>

export interface MetricsServer {
  address: { host: string; port: number }
  close(): Promise<void>
}

/** Serve GET /metrics (Prometheus text) and GET /healthz over plain HTTP. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { metrics, healthy = () => true, handlers = [] } = options
  const server = createServer(async (req, res) => {
    for (const handler of handlers) {
      try {
        if (await handler(req, res)) return
      } catch (err) {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
        res.end(`${(err as Error).message}\n`)
        return
      }
    }
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n')
      return
    }
    if (path === '/metrics') {
      let body: string
      try {
        body = metrics.toPrometheus()
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`)
        return
      }
      res.writeHead(200, {
        'content-type': kPrometheusContentType,
        'content-length': Buffer.byteLength(body),
      })
      res.end(req.method === 'HEAD' ? undefined : body)
    } else if (path === '/healthz') {
      const ok = healthy()
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'unhealthy\n')
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
    }
  })
  // Scrapers keep connections alive; don't let them hold shutdown hostage.
  server.keepAliveTimeout = 5000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const addr = server.address() as AddressInfo
  return {
    address: { host: addr.address, port: addr.port },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()))
        server.closeAllConnections()
      }),
  }
}
