import type { IncomingMessage, ServerResponse } from 'node:http'
import { type HttpHandler, type HttpListener, listenHttp } from './http-listener.ts'
import type { Metrics } from './metrics.ts'
import { kPrometheusContentType } from './prometheus.ts'

export type { HttpHandler } from './http-listener.ts'

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

export type MetricsServer = HttpListener

/** Serve GET /metrics (Prometheus text) and GET /healthz over plain HTTP. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { metrics, healthy = () => true } = options
  const builtin = (req: IncomingMessage, res: ServerResponse) => {
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
  }
  return listenHttp({
    ...(options.host !== undefined ? { host: options.host } : {}),
    port: options.port,
    handlers: options.handlers ?? [],
    fallback: builtin,
  })
}
