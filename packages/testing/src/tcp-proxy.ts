/**
 * A loopback TCP relay a test can cut and restore: the stand-in for an edge host's uplink.
 * `cut()` drops every relayed connection and refuses new ones (the port stops listening), like a
 * link going down; `restore()` listens on the same port again. Traffic never leaves 127.0.0.1.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'
import { freePort } from './ports.ts'

export interface TcpProxy {
  /** Where clients connect: `127.0.0.1:<port>`. */
  readonly port: number
  readonly url: string
  readonly up: boolean
  cut(): Promise<void>
  restore(): Promise<void>
  close(): Promise<void>
}

export async function startTcpProxy(
  target: { host?: string; port: number },
  scheme = 'nats',
): Promise<TcpProxy> {
  const port = await freePort()
  const sockets = new Set<Socket>()
  let server: Server | null = null

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((downstream) => {
        const upstream = tcpConnect({ host: target.host ?? '127.0.0.1', port: target.port })
        for (const sock of [downstream, upstream]) {
          sockets.add(sock)
          sock.on('close', () => sockets.delete(sock))
          sock.on('error', () => {
            downstream.destroy()
            upstream.destroy()
          })
        }
        downstream.pipe(upstream)
        upstream.pipe(downstream)
      })
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => {
        s.off('error', reject)
        server = s
        resolve()
      })
    })

  const cut = async () => {
    const s = server
    server = null
    for (const sock of sockets) sock.destroy()
    sockets.clear()
    if (s !== null) await new Promise<void>((resolve) => s.close(() => resolve()))
  }

  await listen()
  return {
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    get up() {
      return server !== null
    },
    cut,
    restore: async () => {
      if (server === null) await listen()
    },
    close: cut,
  }
}
