import type { OursServer } from '../targets/ours.ts'
import type { BodySpec } from './bodies.ts'
import { type LoadOutcome, runLoad } from './coordinator.ts'

/** Records per BATCH frame and body size of a fill: 64 × 1 KiB. */
export const kFillRecordsPerFrame = 64
export const kFillBodyBytes = 1024

export interface FillOptions {
  /** Bytes of record bodies to ingest (rounded up to whole frames). */
  bytes: number
  /** Bodies (default: random bytes). */
  body?: BodySpec
  /** Frames in flight per connection (default 32). */
  window?: number
  /** Give up after this long (ms). */
  timeoutMs: number
}

/**
 * Ingest `bytes` of 1 KiB records as fast as the server takes them (closed loop, 64-record BATCH
 * frames over 4 connections): a log to recover, or an outage's backlog for a subscriber. Not a
 * measurement in itself; the caller measures what follows.
 */
export async function fillLog(
  server: OursServer,
  o: FillOptions,
): Promise<{ frames: number; outcome: LoadOutcome }> {
  const frames = Math.ceil(o.bytes / (kFillRecordsPerFrame * kFillBodyBytes))
  const outcome = await runLoad({
    kind: 'mip',
    host: '127.0.0.1',
    port: server.port,
    connections: 4,
    localAddresses: [],
    bodyBytes: kFillBodyBytes,
    ...(o.body ? { body: o.body } : {}),
    recordsPerFrame: kFillRecordsPerFrame,
    window: o.window ?? 32,
    ratePerSec: 0,
    warmupMs: 0,
    measureMs: o.timeoutMs,
    drainMs: 30_000,
    token: server.token,
    connectConcurrency: 4,
    natsPublish: 'js',
    maxFrames: frames,
    workers: 2,
  })
  return { frames, outcome }
}
