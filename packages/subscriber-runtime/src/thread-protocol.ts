import type { MessagePort } from 'node:worker_threads'
import type { WireError } from '@module-ingest/errors'
import type { PackedRecords } from '@module-ingest/log/packed'
import type { SubscriberConfig } from './config.ts'
import type { LogLevel } from './forward-logger.ts'
import type { PluginRegistry } from './plugin.ts'
import type { RuntimeMetrics, SubscriberStats } from './types.ts'

/**
 * The protocol between the host (src/thread.ts, the server's main thread) and the runtime's own
 * thread (src/thread-worker.ts), both sides.
 *
 *   host ──workerData: ThreadSetup (+ durableSignal SAB, control port)──▶ thread   (once)
 *   host ──comlink: pause / resume / finished / close ──────────────────▶ thread   (control)
 *   host ◀─READY | FAILED (a coded start error) ── parentPort ─────────── thread   (once)
 *   host ◀─EMIT / EMIT_PACKED (buffers moved) ──── parentPort ─────────── thread   (per batch)
 *   host ──EMITTED { id, error?, records? } ─────────────────────────────▶ thread
 *   host ◀─LOG (level, bindings, obj, msg) ─────── parentPort ─────────── thread   (per line)
 *   host ◀─TICK (stats snapshot, metric calls) ── parentPort ──────────── thread   (every 250 ms)
 *
 * Why comlink for control and parentPort for the rest: control calls are few and want a reply
 * (comlink's proxy costs a few µs each, nothing at that rate); the streams are one-way or replied
 * by id and must stay ordered with each other. Node drains a worker's parentPort before its 'exit'
 * event, so every log line and the last TICK reach the host before close() resolves; the comlink
 * port is not drained, so nothing that must arrive travels on it.
 */
export const kThreadContext = 'mi.subscriber-thread'

/** What crosses in workerData: the cloneable part of StartSubscribersOptions. */
export interface ThreadSetup {
  dataDir: string
  subscribers: SubscriberConfig[]
  baseDir: string
  plugins: PluginRegistry
  pluginPaths: string[]
  dryRun: boolean
  commitEveryBatches: number | undefined
  commitIntervalMs: number | undefined
  closeTimeoutMs: number | undefined
  /** The thread's nice (0–19); lowered to the lowest subscriber `nice` (see thread-worker.ts). */
  nice: number
  /** Whether the host has an emitPacked (else the thread unpacks into records for emit). */
  packed: boolean
  /** The writer's durable signal (Int32Array over a SharedArrayBuffer: shared, not copied). */
  durableSignal: Int32Array | undefined
  /** Comlink's end for ThreadControl. */
  control: MessagePort
}

/** What comlink exposes in the thread. Each call returns the stats after it (for the snapshot). */
export interface ThreadControl {
  pause(name: string): SubscriberStats[]
  resume(name: string): SubscriberStats[]
  finished(name?: string): Promise<SubscriberStats[]>
  close(): Promise<SubscriberStats[]>
}

/** A RuntimeMetrics call, recorded in the thread and replayed on the host. */
export type MetricCall = {
  [K in keyof RuntimeMetrics]-?: [K, ...Parameters<NonNullable<RuntimeMetrics[K]>>]
}[keyof RuntimeMetrics]

export type FromThread =
  | {
      code: 'READY'
      context: typeof kThreadContext
      stats: SubscriberStats[]
      /** The thread's nice now (null: not Linux), and the subscriber it was lowered for, if any. */
      nice: number | null
      loweredFor: string | null
    }
  | { code: 'FAILED'; context: typeof kThreadContext; error: WireError }
  | { code: 'EMIT'; context: typeof kThreadContext; id: number; records: EmitRecord[] }
  | { code: 'EMIT_PACKED'; context: typeof kThreadContext; id: number; packed: PackedRecords }
  | {
      code: 'LOG'
      context: typeof kThreadContext
      level: LogLevel
      bindings: Record<string, unknown>
      obj: Record<string, unknown> | undefined
      msg: string
    }
  | { code: 'TICK'; context: typeof kThreadContext; stats: SubscriberStats[]; metrics: MetricCall[] }

export interface EmitRecord {
  stream: string
  body: Uint8Array
  module?: string
}

/**
 * The reply to EMIT / EMIT_PACKED. On failure a packed buffer that was moved to the host comes
 * back (moved again), because the runtime retries an emit with the same object.
 */
export type ToThread = {
  code: 'EMITTED'
  context: typeof kThreadContext
  id: number
  error?: WireError
  records?: Uint8Array
}
