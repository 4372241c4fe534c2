// The writer's public types (exported from index.ts) and what its parts share (WriterCtx).
import type { ResolvedOptions } from './config.ts'
import type { Lifecycle } from './failure.ts'
import type { FlushStrategy } from './flush-policy.ts'
import type { WriterIo } from './io.ts'
import type { RecoveryReport } from './recovery.ts'
import type { DamageStats } from './verifier.ts'

export interface AppendRecord {
  stream: string
  /** µs: a safe integer, or a bigint up to 2^64-1 (stored exactly, read back as a bigint above 2^53-1). */
  ts: number | bigint
  body: Uint8Array
}
export interface AppendEntry {
  module: string
  core: string
  seq: bigint
  rts: number
  records: AppendRecord[]
}
export interface AppendResult {
  firstLsn: number
  lastLsn: number
}

export interface LogStats {
  state: 'open' | 'unavailable' | 'closed'
  bytesOnDisk: number
  segments: number
  oldestRecordTsUs: number | undefined
  durableLsn: number
  lastAppendedLsn: number
  pendingRecords: number
  commits: number
  committedRecords: number
  committedBytes: number
  recovery: RecoveryReport
  /** Damage found in durable data since open (recovery + background CRC check of sealed segments). */
  damage: DamageStats
  /** Modules whose high-water mark is in memory (idle ones leave it: option moduleIdleMs). */
  modulesInMemory: number
  /**
   * The name catalog: names it holds (in memory and in the file), the file's size, and ids dropped
   * by compaction (holes in the id space) (names no retained segment, live module or pending group uses).
   */
  catalog: { names: number; bytes: number; dropped: number }
  /**
   * Checkpoints written since open; the last one's bytes (checkpoint file + what it added to the
   * HWM file: the changed modules' marks, or all of them when it started a new generation), time,
   * and how many module marks it wrote.
   */
  checkpoints: { count: number; last?: { bytes: number; ms: number; full: boolean; modules: number } }
}

/**
 * What commitSync() did: wrote (and, under flush 'always', fdatasynced) at least one group; found
 * nothing to write; or left the groups to the async path for now (a sync() caller, a segment roll,
 * a retry or groupCommitMaxDelayMs owns them): let the event loop run, then call again.
 */
export type CommitSyncResult = 'written' | 'idle' | 'busy'

export interface Log {
  append(entry: AppendEntry): AppendResult
  /** Append bytes from entry.ts's AppendEncoder (made on another thread): names mapped, records copied. */
  appendEncoded(encoded: Uint8Array): AppendResult
  /**
   * Write every formed group now on the calling thread, blocking it in writev + fdatasync (one
   * fdatasync covers all of them). For a thread that exists only to write (the engine's writer
   * worker): it skips two threadpool hops per group, and the groups of the next call form in its
   * rings meanwhile. From the first call on, the caller drives commits: the log no longer schedules
   * them itself, except for sync() and what the async path already holds.
   */
  commitSync(): CommitSyncResult
  /**
   * For the same caller: hand what is formed to the async group commit (threadpool writev +
   * fdatasync, groups forming meanwhile) and return at once. Under heavy load this overlaps the
   * caller's appends with the disk; commitSync() answers 'busy' until that pump is done.
   */
  commitAsync(): void
  onDurable(cb: (durableLsn: number) => void): () => void
  onError(cb: (err: Error) => void): () => void
  onResume(cb: () => void): () => void
  readonly durableLsn: number
  /** Int32Array over a SharedArrayBuffer: slot 0 counts commits (see index.ts). */
  readonly durableSignal: Int32Array
  readonly dir: string
  moduleHwm(module: string): bigint
  sync(): Promise<void>
  /**
   * Resolves once the appends up to `lsn` are durable as sync() would make them, without a commit
   * of their own where every group commit fdatasyncs anyway (flush 'always'): they become durable
   * with the next group written (the caller's commitSync, or the pump), sharing its fdatasync. Under
   * 'interval' and 'none' it is sync(). Rejects like sync() when the writer fails (the appends were
   * dropped and their lsns will be reused) or closes. A caller that drives commits must keep doing so.
   */
  whenDurable(lsn: number): Promise<void>
  retry(): Promise<boolean>
  stats(): LogStats
  close(): Promise<void>
}

/** What the writer's parts share: where, how, through which I/O, and in which state/epoch. */
export interface WriterCtx {
  readonly dir: string
  readonly opts: ResolvedOptions
  readonly flush: FlushStrategy
  /** Data-path I/O (replaced by tests through kIo). */
  io: WriterIo
  readonly life: Lifecycle
}
