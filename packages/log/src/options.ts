// The one table of the log's options (issue 13 item 3): name, type, default, bounds and the
// sentence that documents it. `resolveOptions` (config.ts) validates with it, and the server's
// configuration schema (packages/config, `log.*`) is derived from it, so a value the server's
// config accepts is a value the writer accepts, with the same default. No imports: the config
// package loads this file alone (`@module-ingest/log/options`).

export interface IntOption {
  kind: 'int'
  /** undefined: optional, unset by default (e.g. retention limits). */
  default: number | undefined
  min: number
  max: number
  description: string
}

export interface EnumOption<V extends string = string> {
  kind: 'enum'
  values: readonly V[]
  default: V
  description: string
}

export type LogOptionSpec = IntOption | EnumOption

const kMiB = 1024 * 1024
const kMax = Number.MAX_SAFE_INTEGER

const int = (d: number | undefined, min: number, max: number, description: string): IntOption => ({
  kind: 'int',
  default: d,
  min,
  max,
  description,
})

/** Top-level options (`openLog(dir, options)`, server config `log.<name>`). */
export const kLogOptionTable = {
  segmentSizeBytes: int(64 * kMiB, 4096, 2 ** 40, 'Roll to a new segment file past this size.'),
  flush: {
    kind: 'enum',
    values: ['always', 'interval', 'none'] as const,
    default: 'always',
    description:
      '`always`: fdatasync before every ACK (durable). `interval`: every flushIntervalMs. `none`: leave it to the OS. Weaker policies are announced in WELCOME.',
  } satisfies EnumOption<'always' | 'interval' | 'none'>,
  flushIntervalMs: int(10, 1, kMax, 'Sync period under flush "interval".'),
  groupCommitMaxDelayMs: int(
    0,
    0,
    10_000,
    'Extra wait for more records before a group is written when no fdatasync is running. 0: at once (groups still form while the previous fdatasync runs).',
  ),
  groupCommitMaxBytes: int(kMiB, 1024, 2 ** 30, 'Commit early once this much is pending.'),
  compression: {
    kind: 'enum',
    values: ['none', 'zstd'] as const,
    default: 'none',
    description: 'Compression of stored batches (per group, kept only when smaller).',
  } satisfies EnumOption<'none' | 'zstd'>,
  indexIntervalBytes: int(
    64 * 1024,
    512,
    kMax,
    'Sparse index granularity: one entry per this many segment bytes.',
  ),
  checkpointIntervalBytes: int(16 * kMiB, 1, kMax, 'Write a recovery checkpoint after this many bytes.'),
  checkpointIntervalMs: int(
    5_000,
    1,
    kMax,
    'Write a recovery checkpoint at least this often (when data changed).',
  ),
  retryIntervalMs: int(1_000, 1, kMax, 'Probe period while the disk refuses writes (ENOSPC, EIO).'),
  lockWaitMs: int(
    2_000,
    0,
    600_000,
    'At start, wait this long for a previous writer that is still exiting to release the directory.',
  ),
  moduleIdleMs: int(
    3_600_000,
    0,
    kMax,
    "A module neither writing nor connecting for this long leaves the writer's memory; its high-water mark stays in the HWM snapshot on disk and is read back when it returns. 0: never.",
  ),
  fileMode: int(
    0o600,
    0,
    0o777,
    'Permission bits of the files the log creates (segments, indexes, catalog, checkpoints, consumer groups), subject to the umask. Default 0o600 (384): the owner only.',
  ),
  dirMode: int(
    0o700,
    0,
    0o777,
    'Permission bits of the log directory (set at every open) and the directories the log creates. Default 0o700 (448): the owner only.',
  ),
  verifyIntervalMs: int(
    10_000,
    0,
    kMax,
    'CRC-check one sealed segment in the background this often (0: never). Damage is logged and counted.',
  ),
} as const

/** `retention.<name>`. */
export const kRetentionOptionTable = {
  maxAgeMs: int(undefined, 1, kMax, 'Delete segments whose newest record is older than this. Unset: keep.'),
  maxBytes: int(undefined, 1, kMax, 'Delete the oldest segments while the log is larger. Unset: no limit.'),
  forceDeleteAfterMs: int(
    undefined,
    1,
    kMax,
    'Delete segments past retention even if a subscriber has not consumed them, after this long. Unset: never.',
  ),
  checkIntervalMs: int(60_000, 1, kMax, 'How often retention runs (also after every segment roll).'),
} as const
