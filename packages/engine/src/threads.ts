/**
 * Spawning the engine's worker threads and knowing when they are ready, or why they are not.
 *
 * A worker that dies while it starts (the writer's openLog() throws on a damaged log, a held lock,
 * a full disk) must reject the start, not leave a request to it unanswered: an await on a comlink
 * call to a dead worker never settles, and the process would end with exit 13 ("unsettled
 * top-level await") and no message. So every wait races the worker's own 'error' and 'exit'.
 */
import { MessageChannel, Worker } from 'node:worker_threads'
import * as Comlink from 'comlink'
import { MI_ERR_ENGINE_WORKER_MEMORY } from './errors.ts'

export interface Spawned<Control> {
  name: string
  worker: Worker
  control: Comlink.Remote<Control>
  /** Rejects with the worker's error (its `code` survives) or an exit without one. */
  down: Promise<never>
}

/** A worker's heap cap and the config key that set it (named in the error when it is reached). */
export interface HeapCap {
  mb: number
  key: string
}

/** Start `url` with `workerData`; the comlink port is `workerData.control`. */
export function spawn<Control>(
  url: URL,
  name: string,
  workerData: (control: import('node:worker_threads').MessagePort) => object,
  heap: HeapCap,
): Spawned<Control> {
  const port = new MessageChannel()
  const worker = new Worker(url, {
    name: `mi-${name}`,
    workerData: workerData(port.port2),
    transferList: [port.port2],
    // Old generation only: young generation and code space keep V8's defaults (a few MB each).
    resourceLimits: { maxOldGenerationSizeMb: heap.mb },
  })
  const down = new Promise<never>((_, reject) => {
    worker.once('error', (err: Error & { code?: string }) =>
      // Node terminates the worker and reports only "reached memory limit": say which cap it was.
      reject(
        err.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? new MI_ERR_ENGINE_WORKER_MEMORY(name, heap.mb, heap.key, { cause: err })
          : err,
      ),
    )
    worker.once('exit', (code) =>
      reject(Object.assign(new Error(`exited with code ${code}`), { exitCode: code })),
    )
  })
  // Observed here; every start-time wait and the runtime fatal handler race it explicitly.
  down.catch(() => {})
  return {
    name,
    worker,
    control: Comlink.wrap<Control>(port.port1 as unknown as Comlink.Endpoint),
    down,
  }
}

/** Resolves with `ready` unless the worker dies first (then rejects with why). */
export async function untilReady<T>(spawned: Spawned<unknown>, ready: Promise<T>): Promise<T> {
  return Promise.race([ready, spawned.down])
}

/** `code: message` of a worker error, for messages that wrap it. */
export function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown }
  const message = typeof e?.message === 'string' ? e.message : String(err)
  return typeof e?.code === 'string' ? `${e.code}: ${message}` : message
}
