/**
 * The public shapes of Client's API: what send/sendBatch accept, what `stats` and 'connected'
 * report. Types only, kept apart from client.ts so the behaviour reads without them; index.ts
 * re-exports them as they were.
 */
import type { Welcome } from '@module-ingest/protocol'

export interface SendOptions {
  /** Producer timestamp, µs since the epoch; 0 (default) lets the server stamp it. A bigint for any u64. */
  ts?: number | bigint
}

export interface BatchOptions {
  /** zstd-compress the batch when the server offers zstd. Default false. */
  compress?: boolean
}

export interface ClientStats {
  /** Frames admitted and not yet settled (sent or waiting to be re-sent). */
  inFlight: number
  /** Frames resolved by ACK or by a resuming HELLO_OK. */
  acked: number
  nacked: number
  /** Successful re-handshakes after the first. */
  reconnects: number
  /** Frames re-sent after a reconnect. */
  resent: number
  /** Senders waiting for a window slot. */
  waiting: number
  connected: boolean
}

export interface ConnectedInfo {
  session: string
  hwm: bigint
  mac: boolean
  scopes: string[]
  welcome: Welcome
}
