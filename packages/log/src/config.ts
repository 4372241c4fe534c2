// Declared options and their validation (STYLE §3: validate at the facade). Defaults and bounds
// come from the one option table in options.ts, which the server's config schema is derived from.
import { MI_ERR_LOG_OPTION_INVALID } from './errors.ts'
import {
  type EnumOption,
  type IntOption,
  kRetentionOptionTable as R,
  kLogOptionTable as T,
} from './options.ts'
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
  /** Idle modules leave memory after this long (their HWM stays on disk); 0: never. Default 1 h. */
  moduleIdleMs?: number
  /** Permission bits of files the log creates (default 0o600). */
  fileMode?: number
  /** Permission bits of the log directory, set at open, and of directories it creates (default 0o700). */
  dirMode?: number
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
  moduleIdleMs: number
  fileMode: number
  dirMode: number
  onCommit: ((info: CommitInfo) => void) | undefined
  onError: ((err: Error) => void) | undefined
  onDamage: ((d: DamageReport) => void) | undefined
}

/** Defaults, from the option table (options.ts). */
export const kDefaults = {
  segmentSizeBytes: T.segmentSizeBytes.default,
  flush: T.flush.default,
  flushIntervalMs: T.flushIntervalMs.default,
  groupCommitMaxDelayMs: T.groupCommitMaxDelayMs.default,
  groupCommitMaxBytes: T.groupCommitMaxBytes.default,
  compression: T.compression.default,
  indexIntervalBytes: T.indexIntervalBytes.default,
  checkpointIntervalBytes: T.checkpointIntervalBytes.default,
  checkpointIntervalMs: T.checkpointIntervalMs.default,
  retryIntervalMs: T.retryIntervalMs.default,
  lockWaitMs: T.lockWaitMs.default,
  verifyIntervalMs: T.verifyIntervalMs.default,
  moduleIdleMs: T.moduleIdleMs.default,
  fileMode: T.fileMode.default,
  dirMode: T.dirMode.default,
  retentionCheckIntervalMs: R.checkIntervalMs.default,
} as const

function int(path: string, v: unknown, spec: IntOption): number {
  const r = optInt(path, v, spec)
  if (r === undefined) throw new Error(`option table: ${path} has no default`)
  return r
}

function optInt(path: string, v: unknown, spec: IntOption): number | undefined {
  if (v === undefined) return spec.default
  if (typeof v !== 'number' || !Number.isInteger(v) || v < spec.min || v > spec.max) {
    throw new MI_ERR_LOG_OPTION_INVALID(
      path,
      `must be an integer in [${spec.min}, ${spec.max}], got ${String(v)}`,
    )
  }
  return v
}

function oneOf<V extends string>(path: string, v: unknown, spec: EnumOption<V>): V {
  if (v === undefined) return spec.default
  if (!(spec.values as readonly unknown[]).includes(v)) {
    throw new MI_ERR_LOG_OPTION_INVALID(
      path,
      `must be ${spec.values.map((x) => `'${x}'`).join(', ')}, got ${String(v)}`,
    )
  }
  return v as V
}

export function resolveOptions(o: LogOptions = {}): ResolvedOptions {
  if (o === null || typeof o !== 'object') throw new MI_ERR_LOG_OPTION_INVALID('', 'must be an object')
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
    segmentSizeBytes: int('segmentSizeBytes', o.segmentSizeBytes, T.segmentSizeBytes),
    flush: oneOf('flush', o.flush, T.flush),
    flushIntervalMs: int('flushIntervalMs', o.flushIntervalMs, T.flushIntervalMs),
    groupCommitMaxDelayMs: int('groupCommitMaxDelayMs', o.groupCommitMaxDelayMs, T.groupCommitMaxDelayMs),
    groupCommitMaxBytes: int('groupCommitMaxBytes', o.groupCommitMaxBytes, T.groupCommitMaxBytes),
    compression: oneOf('compression', o.compression, T.compression),
    retention: {
      maxAgeMs: optInt('retention.maxAgeMs', r.maxAgeMs, R.maxAgeMs),
      maxBytes: optInt('retention.maxBytes', r.maxBytes, R.maxBytes),
      forceDeleteAfterMs: optInt('retention.forceDeleteAfterMs', r.forceDeleteAfterMs, R.forceDeleteAfterMs),
      protectGroups,
      checkIntervalMs: int('retention.checkIntervalMs', r.checkIntervalMs, R.checkIntervalMs),
    },
    indexIntervalBytes: int('indexIntervalBytes', o.indexIntervalBytes, T.indexIntervalBytes),
    checkpointIntervalBytes: int(
      'checkpointIntervalBytes',
      o.checkpointIntervalBytes,
      T.checkpointIntervalBytes,
    ),
    checkpointIntervalMs: int('checkpointIntervalMs', o.checkpointIntervalMs, T.checkpointIntervalMs),
    retryIntervalMs: int('retryIntervalMs', o.retryIntervalMs, T.retryIntervalMs),
    lockWaitMs: int('lockWaitMs', o.lockWaitMs, T.lockWaitMs),
    verifyIntervalMs: int('verifyIntervalMs', o.verifyIntervalMs, T.verifyIntervalMs),
    moduleIdleMs: int('moduleIdleMs', o.moduleIdleMs, T.moduleIdleMs),
    fileMode: int('fileMode', o.fileMode, T.fileMode),
    dirMode: int('dirMode', o.dirMode, T.dirMode),
    onCommit: o.onCommit,
    onError: o.onError,
    onDamage: o.onDamage,
  }
}
