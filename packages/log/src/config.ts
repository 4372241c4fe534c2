// Declared options, their defaults and validation (STYLE §3: validate at the facade).
import { MI_ERR_LOG_OPTION_INVALID } from './errors.ts'
import type { DamageReport } from './verifier.ts'

export type FlushPolicy = 'always' | 'interval' | 'none'

export interface RetentionOptions {
  /** Delete sealed segments whose newest record was received longer ago than this. */
  maxAgeMs?: number
  /** Delete the oldest sealed segments while the log is bigger than this. */
  maxBytes?: number
  /** Consumer groups whose unconsumed data retention must keep. */
  protectGroups?: string[]
  /** Past this age (newest record), a segment goes even if a protected group has not consumed it. */
  forceDeleteAfterMs?: number
  /** How often the writer checks retention (also after every segment seal). Default 60 000 ms. */
  checkIntervalMs?: number
}

export interface CommitInfo {
  records: number
  bytes: number
  /** µs spent in write(2) for the group. */
  writeUs: number
  /** µs spent in fdatasync (0 unless flush is 'always'). */
  syncUs: number
  /** µs from the group's first append to the moment it was reported durable. */
  latencyUs: number
}

export interface LogOptions {
  segmentSizeBytes?: number
  flush?: FlushPolicy
  flushIntervalMs?: number
  groupCommitMaxDelayMs?: number
  groupCommitMaxBytes?: number
  compression?: 'none' | 'zstd'
  retention?: RetentionOptions
  indexIntervalBytes?: number
  checkpointIntervalBytes?: number
  checkpointIntervalMs?: number
  retryIntervalMs?: number
  /** Wait this long for a dying previous writer to release the directory (default 2000). */
  lockWaitMs?: number
  /** CRC-check one sealed segment in the background every this many ms (0: never). Default 10 000. */
  verifyIntervalMs?: number
  onCommit?: (info: CommitInfo) => void
  onError?: (err: Error) => void
  /** Damage found in durable data (recovery, background check). Default: a process warning. */
  onDamage?: (d: DamageReport) => void
}

export interface ResolvedOptions {
  segmentSizeBytes: number
  flush: FlushPolicy
  flushIntervalMs: number
  groupCommitMaxDelayMs: number
  groupCommitMaxBytes: number
  compression: 'none' | 'zstd'
  retention: Required<Pick<RetentionOptions, 'protectGroups' | 'checkIntervalMs'>> & RetentionOptions
  indexIntervalBytes: number
  checkpointIntervalBytes: number
  checkpointIntervalMs: number
  retryIntervalMs: number
  lockWaitMs: number
  verifyIntervalMs: number
  onCommit: ((info: CommitInfo) => void) | undefined
  onError: ((err: Error) => void) | undefined
  onDamage: ((d: DamageReport) => void) | undefined
}

export const kDefaults = {
  segmentSizeBytes: 64 * 1024 * 1024,
  flush: 'always',
  flushIntervalMs: 100,
  groupCommitMaxDelayMs: 0,
  groupCommitMaxBytes: 1024 * 1024,
  compression: 'none',
  indexIntervalBytes: 64 * 1024,
  checkpointIntervalBytes: 16 * 1024 * 1024,
  checkpointIntervalMs: 5_000,
  retryIntervalMs: 1_000,
  lockWaitMs: 2_000,
  verifyIntervalMs: 10_000,
  retentionCheckIntervalMs: 60_000,
} as const

function int(path: string, v: unknown, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return def
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new MI_ERR_LOG_OPTION_INVALID(path, `must be an integer in [${min}, ${max}], got ${String(v)}`)
  }
  return v
}

function optInt(path: string, v: unknown, min: number): number | undefined {
  return v === undefined ? undefined : int(path, v, 0, min)
}

export function resolveOptions(o: LogOptions = {}): ResolvedOptions {
  if (o === null || typeof o !== 'object') throw new MI_ERR_LOG_OPTION_INVALID('', 'must be an object')
  const flush = o.flush ?? kDefaults.flush
  if (!['always', 'interval', 'none'].includes(flush)) {
    throw new MI_ERR_LOG_OPTION_INVALID(
      'flush',
      `must be 'always', 'interval' or 'none', got ${String(flush)}`,
    )
  }
  const compression = o.compression ?? kDefaults.compression
  if (!['none', 'zstd'].includes(compression)) {
    throw new MI_ERR_LOG_OPTION_INVALID('compression', `must be 'none' or 'zstd', got ${String(compression)}`)
  }
  const r = o.retention ?? {}
  const protectGroups = r.protectGroups ?? []
  if (!Array.isArray(protectGroups) || protectGroups.some((g) => typeof g !== 'string')) {
    throw new MI_ERR_LOG_OPTION_INVALID('retention.protectGroups', 'must be an array of group names')
  }
  for (const [k, f] of [
    ['onCommit', o.onCommit],
    ['onError', o.onError],
    ['onDamage', o.onDamage],
  ] as const) {
    if (f !== undefined && typeof f !== 'function')
      throw new MI_ERR_LOG_OPTION_INVALID(k, 'must be a function')
  }
  return {
    segmentSizeBytes: int('segmentSizeBytes', o.segmentSizeBytes, kDefaults.segmentSizeBytes, 4096, 2 ** 40),
    flush,
    flushIntervalMs: int('flushIntervalMs', o.flushIntervalMs, kDefaults.flushIntervalMs, 1),
    groupCommitMaxDelayMs: int(
      'groupCommitMaxDelayMs',
      o.groupCommitMaxDelayMs,
      kDefaults.groupCommitMaxDelayMs,
      0,
      10_000,
    ),
    groupCommitMaxBytes: int(
      'groupCommitMaxBytes',
      o.groupCommitMaxBytes,
      kDefaults.groupCommitMaxBytes,
      1024,
      2 ** 30,
    ),
    compression,
    retention: {
      maxAgeMs: optInt('retention.maxAgeMs', r.maxAgeMs, 0),
      maxBytes: optInt('retention.maxBytes', r.maxBytes, 0),
      forceDeleteAfterMs: optInt('retention.forceDeleteAfterMs', r.forceDeleteAfterMs, 0),
      protectGroups,
      checkIntervalMs: int(
        'retention.checkIntervalMs',
        r.checkIntervalMs,
        kDefaults.retentionCheckIntervalMs,
        1,
      ),
    },
    indexIntervalBytes: int('indexIntervalBytes', o.indexIntervalBytes, kDefaults.indexIntervalBytes, 512),
    checkpointIntervalBytes: int(
      'checkpointIntervalBytes',
      o.checkpointIntervalBytes,
      kDefaults.checkpointIntervalBytes,
      1,
    ),
    checkpointIntervalMs: int(
      'checkpointIntervalMs',
      o.checkpointIntervalMs,
      kDefaults.checkpointIntervalMs,
      1,
    ),
    retryIntervalMs: int('retryIntervalMs', o.retryIntervalMs, kDefaults.retryIntervalMs, 1),
    lockWaitMs: int('lockWaitMs', o.lockWaitMs, kDefaults.lockWaitMs, 0, 600_000),
    verifyIntervalMs: int('verifyIntervalMs', o.verifyIntervalMs, kDefaults.verifyIntervalMs, 0),
    onCommit: o.onCommit,
    onError: o.onError,
    onDamage: o.onDamage,
  }
}
