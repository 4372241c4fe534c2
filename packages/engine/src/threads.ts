/**
 * Spawning the engine's worker threads and knowing when they are ready, or why they are not.
 *
 * A worker that dies while it starts (the writer's openLog() throws on a damaged log, a held lock,
 * a full disk) must reject the start, not leave a request to it unanswered: an await on a comlink
 * call to a dead worker never settles, and the process would end with exit 13 ("unsettled
 * top-level await") and no message. So every wait races the worker's own 'error' and 'exit'.
 *
 * A worker that sleeps in Atomics.wait on its doorbell (the writer, the parsers: ring's
 * runDoorbellLoop) runs its event loop only between sleeps. So every message to it, a comlink call
 * or a command, rings its doorbell once posted: it wakes, finds no ring work and lets its event
 * loop take the message at once, and its idle sleeps can be long (a wake costs CPU, an idle
 * server's mostly) without making a message wait for the sleep to end.
 */
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads'
import { ringDoorbell } from '@module-ingest/ring'
import * as Comlink from 'comlink'
import { MI_ERR_ENGINE_WORKER_MEMORY } from './errors.ts'

export interface Spawned<Control> {
  name: string
  worker: Worker
  control: Comlink.Remote<Control>
  /** Post a message to the worker (and ring its doorbell, if it has one). */
  post(message: unknown): void
  /** Rejects with the worker's error (its `code` survives) or an exit without one. */
  down: Promise<never>
}

/** A worker's heap cap and the config key that set it (named in the error when it is reached). */
export interface HeapCap {
  mb: number
  key: string
}

/**
 * Start `url` with `workerData`; the comlink port is `workerData.control`. `doorbell`: the one the
 * worker sleeps on, rung after every message to it (see the header).
 */
export function spawn<Control>(
  url: URL,
  name: string,
  workerData: (control: MessagePort) => object,
  heap: HeapCap,
  doorbell?: Int32Array,
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
  const ring = doorbell ? () => ringDoorbell(doorbell) : () => {}
  return {
    name,
    worker,
    control: Comlink.wrap<Control>(ringingEndpoint(port.port1, ring)),
    post(message) {
      worker.postMessage(message)
      ring()
    },
    down,
  }
}

/** `port` as comlink's endpoint, calling `after` once each message is posted. */
function ringingEndpoint(port: MessagePort, after: () => void): Comlink.Endpoint {
  const ep = port as unknown as Comlink.Endpoint
  // comlink starts only what it recognises as a MessagePort: this wrapper is not one.
  port.start()
  return {
    postMessage(message, transfer) {
      ep.postMessage(message, transfer)
      after()
    },
    addEventListener: ep.addEventListener.bind(ep),
    removeEventListener: ep.removeEventListener.bind(ep),
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
