/**
 * The read APIs' thread (see reads.ts): its own HTTP listener, its own read-only SQLite
 * connections (kv stores, index files) and its own copy of the credentials, so a read never waits
 * behind the ingest sockets the main thread's event loop serves.
 *
 * Messages from main: `reload` (the engine reloaded the credentials file: re-read our copy, as
 * parsers do) and `close`. To main: `listening`, `failed` (start), `reloaded` / `reloadFailed`,
 * `closed`.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { CredentialStore } from '@module-ingest/auth'
import { createKvReadHandler } from '@module-ingest/kv'
import { type HttpHandler, listenHttp } from '@module-ingest/telemetry/http-listener'
import type { ReadsWorkerData } from './reads.ts'

type Closable = HttpHandler & { close(): Promise<void> }

const data = workerData as ReadsWorkerData
const port = parentPort!

async function start() {
  const credentials = await CredentialStore.load(data.credentialsFile)
  const verify = (token: string) => credentials.verifyOperator(token)
  const handlers: Closable[] = []
  if (data.kv.length > 0) handlers.push(createKvReadHandler({ stores: data.kv, verify }))
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
    listener = await listenHttp({ host: data.listen.host, port: data.listen.port, handlers })
  } catch (err) {
    await closeHandlers()
    throw err
  }
  port.on('message', (m: { type: string }) => {
    if (m.type === 'reload')
      credentials.reload().then(
        (info) => port.postMessage({ type: 'reloaded', generation: info.generation }),
        (err: Error) => port.postMessage({ type: 'reloadFailed', message: err.message }),
      )
    else if (m.type === 'close')
      void (async () => {
        await listener.close().catch(() => {})
        await closeHandlers()
        port.postMessage({ type: 'closed' })
        port.close()
      })()
  })
  port.postMessage({ type: 'listening', address: listener.address })
}

start().catch((err: Error & { code?: string }) => {
  port.postMessage({ type: 'failed', message: err.message, ...(err.code ? { code: err.code } : {}) })
  port.close()
})
