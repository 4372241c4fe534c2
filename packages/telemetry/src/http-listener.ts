/**
 * A plain HTTP listener made of route groups (`HttpHandler`s, tried in order), with a fallback for
 * what none answered. The metrics listener is one (fallback: /metrics and /healthz); the read APIs'
 * thread runs another (fallback: 404).
 *
 * Its own entry point (`@module-ingest/telemetry/http-listener`) importing only node:http, so a
 * worker thread serving an API does not load pino or hdr-histogram.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { type FastGet, fastLane } from './fast-lane.ts'

export type { FastGet } from './fast-lane.ts'

/** One route group on an HTTP listener: answer and return true, or return false to pass. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>

export interface HttpListenerOptions {
  host?: string
  /** 0 picks a free port (tests). */
  port: number
  handlers?: HttpHandler[]
  /** What answers a request no handler took. Default: 404. */
  fallback?: (req: IncomingMessage, res: ServerResponse) => void
  /**
   * Plain keep-alive GETs this answers (a JSON body, or undefined) skip node:http (fast-lane.ts);
   * the first request it declines hands the connection to node:http and the handlers above.
   */
  fastGet?: FastGet
  /** With `fastGet`: after each reply it gave, with the request's arrival (hrtime.bigint()). */
  onFastServed?: (arrivedNs: bigint) => void
}

export interface HttpListener {
  address: { host: string; port: number }
  close(): Promise<void>
}

const notFound = (_req: IncomingMessage, res: ServerResponse) =>
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')

export async function listenHttp(options: HttpListenerOptions): Promise<HttpListener> {
  const { handlers = [], fallback = notFound } = options
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
    fallback(req, res)
  })
  // Scrapers and API clients keep connections alive; don't let them hold shutdown hostage.
  server.keepAliveTimeout = 5000
  const { fastGet } = options
  const onLane = new Set<Socket>()
  if (fastGet) {
    // Every connection starts on the lane; node:http's own connection listener takes it over
    // when the lane declines a request (so its timeouts and connection tracking still apply).
    const toHttp = server.listeners('connection') as Array<(s: Socket) => void>
    server.removeAllListeners('connection')
    server.on('connection', (socket: Socket) => {
      onLane.add(socket)
      socket.once('close', () => onLane.delete(socket))
      fastLane(
        socket,
        (s) => {
          onLane.delete(s)
          for (const l of toHttp) l.call(server, s)
        },
        {
          answer: fastGet,
          keepAliveMs: server.keepAliveTimeout,
          ...(options.onFastServed ? { onServed: options.onFastServed } : {}),
        },
      )
    })
  }
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
        for (const s of onLane) s.destroy()
      }),
  }
}
