/**
 * Messages between the coordinator (the harness process) and its load-generator children
 * (child_process.fork, advanced serialization). One union per direction, discriminated on `code`.
 *
 *   coordinator                    generator child
 *     START {plan}        ─────▶     open connections, handshake
 *                         ◀─────     READY {connected, connectMs}
 *     GO {startAtMs}      ─────▶     warm up, measure, drain
 *                         ◀─────     DONE {result}
 *                         ◀─────     FAILED {message}   (instead of READY/DONE)
 */

import type { BodySpec } from './bodies.ts'

/** Which broker the generator speaks to. */
export type TargetKind = 'mip' | 'nats' | 'redis'

export interface LoadPlan {
  kind: TargetKind
  host: string
  port: number
  /** Connections this child opens. */
  connections: number
  /** Index of this child's first connection across all children (names modules uniquely). */
  firstConnection: number
  /** Source addresses to spread connections over (ephemeral ports are per source address). */
  localAddresses: string[]
  bodyBytes: number
  /** What the bodies are (bodies.ts); default random bytes. */
  body?: BodySpec
  /** MIP/1 stream; default `bench`. */
  stream?: string
  /**
   * MIP/1 only: spread the records' producer timestamps evenly over the last `tsSpreadMs` before
   * the load starts (the index scenario queries an hour of data). 0 or unset: ts 0, the server's
   * receive time.
   */
  tsSpreadMs?: number
  /** Records per frame: 1 sends DATA frames, more sends BATCH frames (MIP/1 only). */
  recordsPerFrame: number
  /** Unsettled frames per connection at most (the in-flight window). */
  window: number
  /** Frames per second this child offers (scheduled sends); 0 = closed loop, as fast as the window allows. */
  ratePerSec: number
  warmupMs: number
  measureMs: number
  /** After measuring: how long to wait for outstanding ACKs before recording them as timed out. */
  drainMs: number
  /** How NATS publishes (nats-channel.ts). */
  natsPublish: 'js' | 'raw'
  /** MIP/1 bearer token. */
  token?: string
  /** Concurrent connection attempts while opening. */
  connectConcurrency: number
  /** Stop after this many frames in total (0 = no limit); used to write an exact amount of log. */
  maxFrames: number
}

export interface LoadResult {
  /** Frames settled (ACKed / PubAck / XADD reply) whose send was scheduled inside the measurement window. */
  measuredFrames: number
  /** Frames settled during the measurement window (throughput numerator). */
  settledInWindow: number
  /** All frames settled, any phase. */
  settledTotal: number
  sentTotal: number
  /** Frames still unsettled (or never sent) when the drain deadline passed; recorded at their age. */
  timedOut: number
  errors: number
  /** First few error messages, for the report. */
  errorSamples: string[]
  /** hdr-histogram (µs), compressed base64. */
  histogram: string
  /** Measurement window actually used, ms. */
  windowMs: number
  connected: number
  connectMs: number
}

export type ToChild =
  | { code: 'START'; plan: LoadPlan }
  | { code: 'GO'; startAtMs: number }
  | { code: 'ABORT' }

export type FromChild =
  | { code: 'READY'; connected: number; connectMs: number; errors: number; errorSamples: string[] }
  | { code: 'DONE'; result: LoadResult }
  | { code: 'FAILED'; message: string }
