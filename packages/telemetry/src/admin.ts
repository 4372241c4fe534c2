import { chmodSync, mkdirSync, unlinkSync } from 'node:fs'
import { connect, createServer, type Socket } from 'node:net'
import { dirname } from 'node:path'
import { fromWire, toWire, type WireError } from '@module-ingest/errors'
import {
  MI_ERR_TELEMETRY_ADMIN_BAD_REQUEST,
  MI_ERR_TELEMETRY_ADMIN_IN_USE,
  MI_ERR_TELEMETRY_ADMIN_TIMEOUT,
  MI_ERR_TELEMETRY_ADMIN_UNKNOWN_CMD,
  MI_ERR_TELEMETRY_ADMIN_UNREACHABLE,
} from './errors.ts'

/*
 * The admin protocol: a unix socket (mode 0600, so only the server's user can use it) carrying
 * newline-delimited JSON.
 *
 *   request   {"id": 1, "cmd": "stats", "args": {...}}\n
 *   response  {"id": 1, "ok": true, "result": ...}\n
 *             {"id": 1, "ok": false, "error": {"code": "MI_ERR_...", "message": "..."}}\n
 *
 * A connection may carry any number of requests; responses come back in request order.
 * Commands the engine registers: stats (→ MetricsSummary), logs {n} (→ string[] of JSON lines).
 */

export type AdminHandler = (args: Record<string, unknown>) => unknown | Promise<unknown>
export type AdminHandlers = Record<string, AdminHandler>

export interface AdminRequest {
  id?: number | string
  cmd: string
  args?: Record<string, unknown>
}

export type AdminResponse =
  | { id?: number | string; ok: true; result: unknown }
  | { id?: number | string; ok: false; error: WireError }

export interface AdminServer {
  path: string
  close(): Promise<void>
}

const kMaxLineBytes = 1 << 20

async function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path)
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

async function answer(handlers: AdminHandlers, line: string): Promise<AdminResponse> {
  let req: AdminRequest
  try {
    req = JSON.parse(line)
    if (typeof req !== 'object' || req === null || typeof req.cmd !== 'string')
      throw new Error('missing "cmd"')
  } catch (err) {
    return { ok: false, error: toWire(new MI_ERR_TELEMETRY_ADMIN_BAD_REQUEST((err as Error).message)) }
  }
  const handler = Object.hasOwn(handlers, req.cmd) ? handlers[req.cmd] : undefined
  if (!handler)
    return { id: req.id, ok: false, error: toWire(new MI_ERR_TELEMETRY_ADMIN_UNKNOWN_CMD(req.cmd)) }
  try {
    const result = await handler(req.args ?? {})
    return { id: req.id, ok: true, result: result ?? null }
  } catch (err) {
    return { id: req.id, ok: false, error: toWire(err) }
  }
}

function serve(socket: Socket, handlers: AdminHandlers): void {
  socket.setEncoding('utf8')
  let buf = ''
  // Serialise requests per connection so responses keep request order.
  let chain = Promise.resolve()
  socket.on('data', (chunk: string) => {
    buf += chunk
    if (buf.length > kMaxLineBytes) {
      socket.destroy()
      return
    }
    let nl = buf.indexOf('\n')
    while (nl !== -1) {
      const line = buf.slice(0, nl).trim()
      buf = buf.slice(nl + 1)
      if (line) {
        chain = chain.then(async () => {
          const res = await answer(handlers, line)
          if (!socket.destroyed) socket.write(`${JSON.stringify(res)}\n`)
        })
      }
      nl = buf.indexOf('\n')
    }
  })
  socket.on('error', () => socket.destroy())
}

/**
 * Listen on a unix socket at `path`. A stale socket file (no server behind it) is replaced; a
 * live one is an error, so two servers cannot share a data dir's admin socket.
 */
export async function startAdminServer(path: string, handlers: AdminHandlers): Promise<AdminServer> {
  mkdirSync(dirname(path), { recursive: true })
  if (await isLive(path)) throw new MI_ERR_TELEMETRY_ADMIN_IN_USE(path)
  try {
    unlinkSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    serve(socket, handlers)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => {
      server.off('error', reject)
      resolve()
    })
  })
  chmodSync(path, 0o600)
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        // server.close() removes the socket file for unix sockets.
        server.close(() => resolve())
      }),
  }
}

/** Send one request and return its result; errors the server reports are rethrown with their code. */
export async function adminRequest(
  path: string,
  cmd: string,
  args?: Record<string, unknown>,
  options: { timeoutMs?: number } = {},
): Promise<unknown> {
  const timeoutMs = options.timeoutMs ?? 5000
  return new Promise((resolve, reject) => {
    const socket = connect(path)
    socket.setEncoding('utf8')
    let buf = ''
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new MI_ERR_TELEMETRY_ADMIN_TIMEOUT(cmd, timeoutMs))
    }, timeoutMs)
    const done = (fn: () => void) => {
      clearTimeout(timer)
      socket.destroy()
      fn()
    }
    socket.once('connect', () => socket.write(`${JSON.stringify({ id: 1, cmd, args: args ?? {} })}\n`))
    socket.on('error', (err: NodeJS.ErrnoException) =>
      done(() =>
        reject(new MI_ERR_TELEMETRY_ADMIN_UNREACHABLE(path, err.code ?? err.message, { cause: err })),
      ),
    )
    socket.on('data', (chunk: string) => {
      buf += chunk
      const nl = buf.indexOf('\n')
      if (nl === -1) return
      let res: AdminResponse
      try {
        res = JSON.parse(buf.slice(0, nl))
      } catch (err) {
        done(() => reject(err))
        return
      }
      done(() => (res.ok ? resolve(res.result) : reject(fromWire(res.error))))
    })
    socket.on('end', () =>
      done(() => reject(new MI_ERR_TELEMETRY_ADMIN_UNREACHABLE(path, 'connection closed before an answer'))),
    )
  })
}
