// The writer: one per log directory, living in the engine's writer worker. See index.ts for the
// design and "Writer layout" there for which file owns which concern. This file is the facade:
// openLog and the wiring of the parts (public types: api.ts; append()'s checks: append-check.ts;
// the watermark file: watermark-writer.ts; the test hooks' crash handover: crash-hook.ts).

import path from 'node:path'
import type { AppendEntry, AppendResult, CommitSyncResult, Log, LogStats, WriterCtx } from './api.ts'
import { checkAppend } from './append-check.ts'
import { type CompactResult, compactCatalog } from './catalog-compact.ts'
import { Checkpointer } from './checkpointer.ts'
import { type CommitInfo, type LogOptions, type ResolvedOptions, resolveOptions } from './config.ts'
import { crashSettled, crashSettling, kCrash, kIo } from './crash-hook.ts'
import { createDurableSignal } from './durable-signal.ts'
import { AppendEncoder } from './entry-encoder.ts'
import { EncodedReader } from './entry-reader.ts'
import { MI_ERR_LOG_CLOSED, MI_ERR_LOG_OPEN_FAILED } from './errors.ts'
import { Lifecycle } from './failure.ts'
import { type FlushStrategy, flushStrategy } from './flush-policy.ts'
import { afs, fs } from './fsio.ts'
import type { Group } from './group.ts'
import { GroupCommit } from './group-commit.ts'
import { loadHwmSnapshotSync } from './hwm-file.ts'
import { realIo, type WriterIo } from './io.ts'
import { acquireLock, forgetLock, releaseLock } from './lock.ts'
import { ModuleMarks } from './module-hwm.ts'
import { NameCatalog } from './names.ts'
import { type Recovered, type RecoveryReport, recover } from './recovery.ts'
import { Retention } from './retention.ts'
import { SegmentWriter } from './segment-writer.ts'
import { SealedVerifier, warnDamage } from './verifier.ts'
import { WatermarkWriter } from './watermark-writer.ts'

export type { AppendEntry, AppendRecord, AppendResult, CommitSyncResult, Log, LogStats } from './api.ts'

export async function openLog(dir: string, options: LogOptions = {}): Promise<Log> {
  const opts = resolveOptions(options)
  const abs = path.resolve(dir)
  await crashSettled(abs)
  try {
    await afs.mkdir(abs, { recursive: true, mode: opts.dirMode })
    // Also an existing directory: with 0700 nothing inside is readable by other users, whatever
    // mode older files were created with (issue 11 item 14).
    fs.chmodSync(abs, opts.dirMode)
    // One writer per directory, and none while a repair tool holds it (lock.ts).
    await acquireLock(abs, 'writer', { waitMs: opts.lockWaitMs })
  } catch (err) {
    throw openFailed(abs, 'taking the directory lock', err)
  }
  try {
    const flush = flushStrategy(opts.flush, opts.flushIntervalMs)
    const rec = await recover(abs, {
      indexIntervalBytes: opts.indexIntervalBytes,
      watermarkOnDisk: flush.syncsCommits,
      fileMode: opts.fileMode,
    })
    const log = new LogImpl(abs, opts, flush, rec)
    await log.init()
    return log
  } catch (err) {
    await releaseLock(abs).catch(() => {})
    throw openFailed(abs, 'recovery', err)
  }
}

/** Coded errors pass through; a bare fs error (ENOSPC, EACCES, EIO) becomes MI_ERR_LOG_OPEN_FAILED. */
function openFailed(dir: string, step: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException
  if (typeof e?.code === 'string' && e.code.startsWith('MI_ERR_')) return e
  const what = e?.code
    ? `${e.code} on ${e.syscall ?? 'a file-system call'}${e.path ? ` '${e.path}'` : ''}`
    : String(e?.message ?? e)
  return new MI_ERR_LOG_OPEN_FAILED(dir, `${step}: ${what}`, { cause: err })
}

class LogImpl implements Log {
  readonly dir: string
  readonly durableSignal = createDurableSignal()
  #ctx: WriterCtx
  #life: Lifecycle
  #report: RecoveryReport
  #seg: SegmentWriter
  #names: NameCatalog
  #marks: ModuleMarks
  #commit: GroupCommit
  #checkpointer: Checkpointer
  #retention: Retention
  #verifier: SealedVerifier
  #stopFlush: () => void = () => {}
  #idleTimer: NodeJS.Timeout | undefined
  #sweeping = false
  #watermark: WatermarkWriter
  #durableCbs = new Set<(lsn: number) => void>()
  #resumeCbs = new Set<() => void>()
  #stats = { commits: 0, committedRecords: 0, committedBytes: 0 }

  constructor(dir: string, opts: ResolvedOptions, flush: FlushStrategy, rec: Recovered) {
    this.dir = dir
    this.#report = rec.report
    this.#life = new Lifecycle(opts.retryIntervalMs, {
      discard: (e) => {
        this.#commit.discard(e)
        this.#marks.rollback()
        this.#names.rollback()
      },
      probe: async () => {
        await this.#commit.quiesce()
        await this.#seg.probe()
        await this.#names.truncate(this.#ctx.io)
      },
      resumed: () => {
        this.#seg.writeOffset = this.#seg.durableOffset
        for (const cb of this.#resumeCbs) cb()
      },
    })
    if (opts.onError) this.#life.errorCbs.add(opts.onError)
    this.#ctx = { dir, opts, flush, io: realIo, life: this.#life }
    this.#seg = new SegmentWriter(this.#ctx, rec)
    this.#names = new NameCatalog(rec.catalogFd, rec.catalogNames, rec.catalogBytes)
    this.#marks = new ModuleMarks(
      rec.hwm,
      () => loadHwmSnapshotSync(dir, this.#checkpointer.hwmGen),
      // A name compaction dropped may belong to a module whose mark left memory: look it up then.
      (name) => this.#names.has(name) || this.#names.dropped > 0,
    )
    this.#commit = new GroupCommit(
      this.#ctx,
      this.#seg,
      this.#names,
      { roll: (base) => this.#roll(base), durable: (g) => this.#durable(g) },
      rec.nextLsn,
    )
    this.#checkpointer = new Checkpointer(this.#ctx, this.#marks, rec.checkpointGen, rec.hwmGen ?? 0, () => ({
      segBase: this.#seg.base,
      offset: this.#seg.durableOffset,
      nextLsn: this.#commit.durableLsn + 1,
      catalogCount: this.#names.persisted,
      maxRts: this.#seg.maxRts,
      firstTs: this.#seg.firstTs,
      fds: [this.#names.fd, this.#seg.fd],
    }))
    this.#retention = new Retention(this.#ctx, this.#seg, () => this.#compactCatalog())
    this.#watermark = new WatermarkWriter(dir, opts.fileMode)
    this.#verifier = new SealedVerifier(
      dir,
      () => this.#seg.sealed.map((s) => s.base),
      opts.onDamage ?? warnDamage,
    )
  }

  async init(): Promise<void> {
    await this.#seg.init()
    this.#publishWatermark()
    await this.#checkpointer.run()
    this.#checkpointer.start(() => this.#commit.durableLsn)
    this.#retention.start()
    if (this.#ctx.opts.moduleIdleMs > 0) {
      this.#idleTimer = setInterval(() => void this.#sweepIdleModules(), this.#ctx.opts.moduleIdleMs)
      this.#idleTimer.unref()
    }
    this.#stopFlush = this.#ctx.flush.start(() => this.#backgroundFlush())
    setImmediate(() => void this.#seg.rebuildMissingIndexes())
    for (const c of this.#report.corruptions) this.#verifier.report({ ...c, foundBy: 'recovery' })
    this.#verifier.start(this.#ctx.opts.verifyIntervalMs)
  }

  get durableLsn(): number {
    return this.#commit.durableLsn
  }

  moduleHwm(module: string): bigint {
    return this.#marks.get(module)
  }

  onDurable(cb: (durableLsn: number) => void): () => void {
    this.#durableCbs.add(cb)
    return () => this.#durableCbs.delete(cb)
  }
  onError(cb: (err: Error) => void): () => void {
    this.#life.errorCbs.add(cb)
    return () => this.#life.errorCbs.delete(cb)
  }
  onResume(cb: () => void): () => void {
    this.#resumeCbs.add(cb)
    return () => this.#resumeCbs.delete(cb)
  }

  // ------------------------------------------------------------------------------------------
  // append: synchronous; validates, then encodes into the forming group (group-commit.ts).

  append(entry: AppendEntry): AppendResult {
    if (this.#life.state !== 'open') throw this.#life.stateError()
    checkAppend(entry)
    const { module, core, seq, rts, records } = entry
    return this.appendEncoded(this.#encoder.encode(module, core, seq, rts, records))
  }

  #encoder = new AppendEncoder()
  #encoded = new EncodedReader()

  /** The writer thread's path: bytes a parser encoded (entry.ts); the writer decodes no record. */
  appendEncoded(encoded: Uint8Array): AppendResult {
    if (this.#life.state !== 'open') throw this.#life.stateError()
    const e = this.#encoded.read(encoded)
    const result = this.#commit.addEncoded(encoded, e, this.#encoded)
    // After addEncoded: the header's module is filled in when its names are mapped (entry.ts ids()).
    this.#marks.appended(e.module, e.seq)
    return result
  }

  commitSync(): CommitSyncResult {
    return this.#commit.commitSync()
  }

  commitAsync(): void {
    this.#commit.commitAsync()
  }

  // ------------------------------------------------------------------------------------------
  // what follows a commit and a roll

  #durable(g: Group): void {
    const bytes = g.endOffset - g.offset
    this.#seg.committed(g.offset, g.endOffset, g.baseLsn, g.maxRts, g.firstTs)
    this.#marks.durableMarked(g.hwm)
    this.#stats.commits++
    this.#stats.committedRecords += g.count
    this.#stats.committedBytes += bytes
    this.#publishWatermark()
    for (const cb of this.#durableCbs) cb(this.#commit.durableLsn)
    this.#ctx.opts.onCommit?.({
      records: g.count,
      bytes,
      writeUs: g.writeUs,
      syncUs: g.syncUs,
      latencyUs: (performance.now() - g.startedAt) * 1000,
    } satisfies CommitInfo)
    this.#checkpointer.committed(bytes)
  }

  async #roll(newBase: number): Promise<void> {
    if (!(await this.#seg.roll(newBase))) return
    await this.#checkpointer.run()
    void this.#retention.run()
  }

  #publishWatermark(): void {
    this.#watermark.publish(
      { durableLsn: this.#commit.durableLsn, segBase: this.#seg.base, endOffset: this.#seg.durableOffset },
      this.durableSignal,
    )
  }

  /** Names no retained segment, live module or pending group uses leave the catalog (catalog-compact.ts). */
  #compactCatalog(): Promise<CompactResult | undefined> {
    const seg = this.#seg
    return compactCatalog({
      dir: this.dir,
      fileMode: this.#ctx.opts.fileMode,
      names: this.#names,
      sealed: () => seg.sealed.map((s) => s.base),
      active: () => ({ base: seg.base, used: seg.used, from: seg.usedFrom }),
      pendingIds: () => this.#commit.pendingIds(),
      liveModules: () => this.#marks.modules(),
      open: () => this.#life.state === 'open',
    }).catch(() => undefined)
  }

  /** Idle modules leave memory once the HWM snapshot on disk holds their marks (module-hwm.ts). */
  async #sweepIdleModules(): Promise<void> {
    if (this.#sweeping || this.#life.state !== 'open' || this.#checkpointer.hwmGen === undefined) return
    this.#sweeping = true
    try {
      // Any checkpoint puts the changed marks in the HWM file (hwm-file.ts): then they may leave memory.
      if (this.#marks.idleDirty()) await this.#checkpointer.run()
      if (this.#life.state === 'open') this.#marks.sweep()
    } finally {
      this.#sweeping = false
    }
  }

  /** The flush strategy's periodic fdatasync ('interval'); false when the writer is not open. */
  #backgroundFlush(): boolean {
    if (this.#life.state !== 'open') return false
    const epoch = this.#life.epoch
    this.#ctx.io.fdatasync(this.#seg.fd).catch((err) => {
      if (epoch === this.#life.epoch) this.#life.fail(err as Error)
    })
    return true
  }

  // ------------------------------------------------------------------------------------------

  retry(): Promise<boolean> {
    return this.#life.retry()
  }

  sync(): Promise<void> {
    if (this.#life.state !== 'open') return Promise.reject(this.#life.stateError())
    // Under the weaker policies a group is "durable" once written: sync() also fdatasyncs it.
    return this.#commit.waitDurable().then(() => this.#ctx.flush.settle(this.#ctx.io, [this.#seg.fd]))
  }

  whenDurable(lsn: number): Promise<void> {
    if (this.#life.state !== 'open') return Promise.reject(this.#life.stateError())
    return this.#ctx.flush.syncsCommits ? this.#commit.whenCovered(lsn) : this.sync()
  }

  stats(): LogStats {
    const oldest = this.#seg.oldestTs
    const c = this.#commit
    return {
      state: this.#life.state,
      bytesOnDisk: this.#seg.bytesOnDisk,
      segments: this.#seg.sealed.length + 1,
      oldestRecordTsUs: oldest >= 0 ? oldest : undefined,
      durableLsn: c.durableLsn,
      lastAppendedLsn: c.nextLsn - 1,
      pendingRecords: c.nextLsn - 1 - c.durableLsn,
      ...this.#stats,
      recovery: this.#report,
      damage: { ...this.#verifier.stats },
      modulesInMemory: this.#marks.inMemory,
      checkpoints: { count: this.#checkpointer.count, last: this.#checkpointer.last },
      catalog: { names: this.#names.live, bytes: this.#names.bytes, dropped: this.#names.dropped },
    }
  }

  async close(): Promise<void> {
    if (this.#life.state === 'closed') return
    if (this.#life.state === 'open') {
      try {
        await this.sync()
      } catch {
        // unavailable: keep what is durable
      }
    }
    await this.#commit.syncsDone()
    await this.#retention.idle()
    if (this.#life.state === 'open') await this.#checkpointer.run()
    await this.#checkpointer.idle()
    await this.#verifier.stop()
    this.#shutdown()
    await releaseLock(this.dir)
  }

  #shutdown(closeFds = true): void {
    this.#life.close()
    this.#checkpointer.stop()
    this.#retention.stop()
    clearInterval(this.#idleTimer)
    this.#marks.stop()
    this.#stopFlush()
    void this.#verifier.stop()
    this.#commit.rejectWaiters(new MI_ERR_LOG_CLOSED('log'))
    if (closeFds) this.#closeFds()
  }

  #closeFds(): void {
    for (const fd of [...this.#seg.fds, this.#names.fd, this.#watermark.fd]) {
      try {
        fs.closeSync(fd)
      } catch {}
    }
  }

  /** Test hook: stop like a SIGKILL would (no flush, no checkpoint); written bytes stay in the page cache. */
  [kCrash](): Promise<void> {
    // Syscalls already issued still complete, as the kernel finishes them before a new process
    // can start. So the fds stay open until they have, and openLog of this directory waits:
    // closed at once, a late write could land in a file the next writer opened under the same fd
    // number (the model test's rare "bad length 0" / CRC damage after a crash).
    const inflight = Promise.allSettled([
      this.#commit.quiesce(),
      this.#checkpointer.idle(),
      this.#retention.idle(),
    ])
    this.#shutdown(false)
    forgetLock(this.dir)
    return crashSettling(
      this.dir,
      inflight.then(() => this.#closeFds()),
    )
  }

  set [kIo](io: WriterIo) {
    this.#ctx.io = io
  }
}
