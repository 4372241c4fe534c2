import type { WireError } from '@module-ingest/errors'
import type { PackedRecords } from '@module-ingest/log/packed'

/**
 * The thread protocol between the dispatcher (main thread) and src/worker.ts, both sides.
 *
 *   main ──workerData: WorkerSetup──────────────▶ worker   (once per worker)
 *   main ──pool.run(BatchTask, move(batch))─────▶ worker   (per attempt)
 *   main ◀─BatchResult (emits moved)──────────── worker
 *   main ◀─LOG / HANDLING via parentPort──────── worker   (piscina re-emits them as 'message')
 *   main ──BroadcastChannel CLOSE───────────────▶ worker   (plugin close() on shutdown)
 *   main ◀─BroadcastChannel CLOSED─────────────── worker
 */
export const kContext = 'mi.subscriber'

export interface WorkerSetup {
  /** Subscriber instance name (ctx.name). */
  name: string
  /** Resolved module URL or bare specifier of the plugin. */
  specifier: string
  /** Raw options; validated again in the worker (the schema's output may not be cloneable). */
  options: unknown
  timeoutMs: number
  /** subscribers[].nice; undefined: the plugin's `nice`, else 0. */
  nice: number | undefined
  hostVersion: string
  /** BroadcastChannel name for CLOSE/CLOSED. */
  channel: string
}

export interface BatchTask {
  /** Per pool, names the task in HANDLING. */
  id: number
  /** StoredRecord[] in the columnar layout of codec.ts, moved. */
  batch: ArrayBuffer
  attempt: number
}

export interface MetricDelta {
  kind: 'counter' | 'histogram' | 'gauge'
  name: string
  /** Counter: sum of increments; gauge: last value; histogram: each recorded value. */
  values: number[]
}

export type BatchResult =
  | { code: 'DONE'; context: typeof kContext; emits: PackedRecords | null; metrics: MetricDelta[] }
  | {
      code: 'FAILED'
      context: typeof kContext
      phase: 'load' | 'init' | 'handle'
      error: WireError
      metrics: MetricDelta[]
    }

export interface WorkerLogEvent {
  code: 'LOG'
  context: typeof kContext
  name: string
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'
  obj: Record<string, unknown> | undefined
  msg: string
}

/** Posted when handle() is called: the batch timeout starts here, not while a new thread boots. */
export interface WorkerHandlingEvent {
  code: 'HANDLING'
  context: typeof kContext
  id: number
}

export type ChannelMessage = { code: 'CLOSE'; timeoutMs: number } | { code: 'CLOSED'; threadId: number }
