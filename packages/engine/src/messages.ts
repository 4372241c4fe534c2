/**
 * The engine's thread protocol, in one file imported by every side (as thread-stream's
 * lib/indexes.js is). Three kinds of channel connect the threads:
 *
 *   main ──inbound ring──▶ parser i ──writer ring──▶ writer
 *   main ◀─outbound ring── parser i ◀──ack slot[i]── writer      (Atomics.store + notify)
 *
 * Rings carry bytes; the few rare control events (module claims, barriers, auth failures) travel
 * as typed postMessage objects; request/response control (stats, reload, drain) goes over comlink.
 */

/** Inbound ring (main → parser), record kinds. The ring tag is always the connection id. */
export const In = {
  /** A connection was accepted; data = msgpack ConnOpen. */
  OPEN: 1,
  /** Raw socket bytes, copied straight from the 'data' chunk. */
  DATA: 2,
  /** The socket is gone (peer closed, error, or the main thread destroyed it). */
  CLOSE: 3,
} as const

/** Outbound ring (parser → main), record kinds. The ring tag is the connection id. */
export const Out = {
  /** Bytes to write to the socket (one or more whole frames). */
  WRITE: 1,
  /** A fatal ERROR frame: write it, half-close, discard input, destroy after at most 2 s. */
  END: 2,
  /** Stop reading this socket for u32 milliseconds (rate limits enforced by TCP backpressure). */
  PAUSE: 3,
} as const

/** Writer ring (parser → writer), record kinds. The ring tag is the connection id (for tracing). */
export const W = {
  /**
   * An accepted DATA or BATCH frame as an encoded append (packages/log/src/entry.ts): the log's
   * own record bytes and their CRC, made by the parser, so the writer decodes nothing.
   */
  FRAME: 1,
  /** A barrier: u32 token, then the module name. Settles once everything before it is durable. */
  BARRIER: 2,
} as const

export interface ConnOpen {
  remoteAddress: string
  /** Module identity from a verified TLS client certificate, if any. */
  tlsIdentity?: string
}

/** Messages a parser worker posts to the main thread (parentPort). */
export type ParserEvent =
  | { code: 'CLAIM'; module: string; connId: number; worker: number }
  | { code: 'AUTH_FAILED'; connId: number; module?: string; reason: string }
  | { code: 'AUTH_OK'; connId: number; module: string }
  /** A live session ended because its credential was revoked, disabled, narrowed or expired. */
  | { code: 'AUTH_REVOKED'; connId: number; module: string; reason: string }

/** Messages the main thread posts to a parser worker. */
export type ParserCommand =
  /** End this worker's session of `module` (SUPERSEDED) if live, then push a barrier `token`. */
  | { code: 'RELEASE'; module: string; token: number; supersede: boolean }
  /** The module's claim for `connId` is granted; everything before it is durable; hwm is exact. */
  | { code: 'CLAIMED'; module: string; connId: number; hwm: bigint }
  /** The log cannot make data durable: end every session with OVERLOADED. */
  | { code: 'OVERLOADED' }
  /** `ip` went over the failed-handshake limit: refuse its HELLOs (RATE_LIMITED) for `ms`. */
  | { code: 'THROTTLE'; ip: string; ms: number }

/** Messages the writer posts to the main thread. */
export type WriterEvent =
  | { code: 'BARRIER'; token: number; module: string; hwm: bigint }
  | { code: 'LOG_UNAVAILABLE'; message: string }
  | { code: 'LOG_AVAILABLE' }

/** Wall clock in microseconds since the epoch, for `rts` and producer ts=0 stamping. */
export function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000)
}
