// Group commit (see "Group-commit rule" in index.ts): appends join the forming group; groups are
// written and (under flush 'always') fdatasynced either by the async pump or, once the caller
// drives commits (commitSync/commitAsync, the engine's writer worker), on the caller's thread.
// Lsns are assigned here; a group's lsns become durable together.

import type { AppendResult, CommitSyncResult, WriterCtx } from './api.ts'
import { writeEncodedBatch } from './entry-batch.ts'
import type { EncodedHeader } from './entry-format.ts'
import type { EncodedReader } from './entry-reader.ts'
import type { FlushStrategy } from './flush-policy.ts'
import { type FramedGroup, frameGroup, type Group, GroupBuffers, newGroup } from './group.ts'
import type { NameCatalog } from './names.ts'
import type { SegmentWriter } from './segment-writer.ts'

interface SyncWaiter {
  lsn: number
  resolve: () => void
  reject: (e: Error) => void
}

export interface CommitHost {
  /** Seal the active segment and start one at `newBase` (then checkpoint, retention). */
  roll(newBase: number): Promise<void>
  /** Group `g` just became durable (durableLsn already moved): watermark, marks, callbacks. */
  durable(g: Group): void
}

export class GroupCommit {
  nextLsn: number
  durableLsn: number
  #ctx: WriterCtx
  #seg: SegmentWriter
  #names: NameCatalog
  #host: CommitHost
  #flush: FlushStrategy
  #cur: Group | undefined
  #ready: Group[] = []
  /** The group #writeGroup holds between leaving #ready and reaching its segment's ids. */
  #writing: Group | undefined
  #pumping: Promise<void> | undefined
  #scheduled = false
  #scheduledForce = false
  #wake: (() => void) | undefined
  #urgent = false
  #syncing: Promise<void> | undefined
  #syncWaiters: SyncWaiter[] = []
  /** whenCovered() callers: like #syncWaiters, but they never hurry a commit. */
  #coverWaiters: SyncWaiter[] = []
  #buffers = new GroupBuffers()
  #lastGroupBytes = 4096
  /** Set by the first commitSync(): commits are driven by the caller, not by #schedule. */
  #callerCommits = false

  constructor(ctx: WriterCtx, seg: SegmentWriter, names: NameCatalog, host: CommitHost, nextLsn: number) {
    this.#ctx = ctx
    this.#flush = ctx.flush
    this.#seg = seg
    this.#names = names
    this.#host = host
    this.nextLsn = nextLsn
    this.durableLsn = nextLsn - 1
  }

  /**
   * Copy one encoded append (entry.ts, made by the caller or a parser thread) into the forming
   * group: its names mapped to catalog ids, its records copied; it is written by the pump or the
   * caller.
   */
  addEncoded(encoded: Uint8Array, e: EncodedHeader, reader: EncodedReader): AppendResult {
    const max = this.#ctx.opts.groupCommitMaxBytes
    let g = this.#cur
    if (!g) {
      const bytes = Math.min(this.#lastGroupBytes + 1024, max + 1024)
      g = newGroup(this.nextLsn, e.rts, e.firstTs, this.#buffers.take(bytes))
      this.#cur = g
    }
    const newNames = g.newNames
    // The reader caches names → ids per epoch: a new one after a failure and after a compaction.
    const epoch = this.#ctx.life.epoch + this.#names.generation * 1_000_000
    const ids = reader.ids(encoded, epoch, (name) => this.#names.intern(name, newNames))
    writeEncodedBatch(g.w, g.crc, encoded, e, reader.moduleId, reader.coreId, e.rts - g.baseRts, ids)
    this.#names.used(g, reader.moduleId, reader.coreId, ids)
    g.count += e.count
    if (e.ts64) g.ts64 = true
    if (e.rts > g.maxRts) g.maxRts = e.rts
    const prev = g.hwm.get(e.module)
    if (prev === undefined || e.seq > prev) g.hwm.set(e.module, e.seq)
    const firstLsn = this.nextLsn
    this.nextLsn += e.count
    if (g.w.pos >= max) {
      this.#ready.push(g)
      this.#cur = undefined
      this.#wake?.()
    }
    this.#schedule()
    return { firstLsn, lastLsn: this.nextLsn - 1 }
  }

  /** Resolves once everything appended so far is durable (rejects if the writer fails or closes). */
  waitDurable(): Promise<void> {
    const target = this.nextLsn - 1
    if (target <= this.durableLsn) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      this.#syncWaiters.push({ lsn: target, resolve, reject })
      this.#urgent = true
      this.#wake?.()
      this.#schedule()
    })
  }

  /**
   * Resolves once `lsn` is durable, without hurrying its group as waitDurable() does: it becomes
   * durable with the group commit that writes it anyway (the caller's commitSync, or the pump).
   * Rejects like waitDurable() when the writer fails (the append was dropped) or closes.
   */
  whenCovered(lsn: number): Promise<void> {
    if (lsn <= this.durableLsn) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      this.#coverWaiters.push({ lsn, resolve, reject })
    })
  }

  /** Ids used by groups not written yet (catalog compaction must keep them). */
  pendingIds(): number[] {
    const out: number[] = []
    for (const g of this.#ready) for (const id of g.ids) out.push(id)
    if (this.#cur) for (const id of this.#cur.ids) out.push(id)
    if (this.#writing) for (const id of this.#writing.ids) out.push(id)
    return out
  }

  /** Wait for running fdatasyncs (before a roll, at close). */
  async syncsDone(): Promise<void> {
    while (this.#syncing) await this.#syncing
  }

  /** Wait for the pump and running fdatasyncs (the retry probe must not race them). */
  async quiesce(): Promise<void> {
    await this.#pumping
    await this.syncsDone()
  }

  /** After a failure or at close: drop what is not durable and reject sync() waiters with `e`. */
  discard(e: Error): void {
    this.#cur = undefined
    this.#ready = []
    this.nextLsn = this.durableLsn + 1
    this.rejectWaiters(e)
  }

  rejectWaiters(e: Error): void {
    for (const w of this.#syncWaiters) w.reject(e)
    for (const w of this.#coverWaiters) w.reject(e)
    this.#syncWaiters = []
    this.#coverWaiters = []
  }

  // ------------------------------------------------------------------------------------------
  // the async pump

  #schedule(force = false): void {
    if (this.#pumping) return
    if (this.#scheduled) {
      // An unforced schedule from before the caller took over becomes a forced one.
      if (force) this.#scheduledForce = true
      return
    }
    // The caller drives commits (commitSync); the async pump runs only for sync() waiters or when
    // commitSync handed it work it cannot do synchronously (a segment roll).
    if (this.#callerCommits && !force && this.#syncWaiters.length === 0) return
    this.#scheduled = true
    this.#scheduledForce = force
    // setImmediate, not a microtask: appends made by the I/O callbacks of this loop turn join the group.
    setImmediate(() => {
      this.#scheduled = false
      if (this.#pumping) return
      // Scheduled before the caller took over commits (its first commitSync): nothing to do here.
      if (this.#callerCommits && !this.#scheduledForce && this.#syncWaiters.length === 0) return
      // #pump may finish synchronously: clear the flag only after it was set, never before.
      const p = this.#pump()
      this.#pumping = p
      void p.then(() => {
        if (this.#pumping === p) this.#pumping = undefined
        if (this.#ctx.life.state === 'open' && (this.#cur || this.#ready.length > 0))
          this.#schedule(this.#ready.length > 0)
      })
    })
  }

  async #pump(): Promise<void> {
    try {
      for (;;) {
        if (this.#ctx.life.state !== 'open') return
        if (this.#ready.length === 0) {
          if (!this.#cur) return
          if (this.#syncing) {
            // Groups form while the previous fdatasync runs; a full group is written at once (overlapping it).
            const syncing = this.#syncing
            await new Promise<void>((resolve) => {
              this.#wake = resolve
              syncing.then(resolve, resolve)
            })
            this.#wake = undefined
            continue
          }
          const delay = this.#ctx.opts.groupCommitMaxDelayMs
          const age = performance.now() - this.#cur.startedAt
          if (delay > 0 && !this.#urgent && age < delay) {
            await new Promise<void>((resolve) => {
              this.#wake = resolve
              setTimeout(resolve, delay - age)
            })
            this.#wake = undefined
            continue
          }
          this.#ready.push(this.#cur)
          this.#cur = undefined
        }
        this.#urgent = false
        await this.#writeGroup(this.#ready.shift()!)
      }
    } catch (err) {
      this.#ctx.life.fail(err as Error)
    }
  }

  #frame(g: Group, declareAll: boolean): FramedGroup {
    const { opts } = this.#ctx
    const declared = this.#names.declared(g.newNames, declareAll, opts.segmentSizeBytes)
    return frameGroup(g, opts.compression === 'zstd', declared)
  }

  async #writeGroup(g: Group): Promise<void> {
    this.#writing = g
    try {
      await this.#writeGroupIn(g)
    } finally {
      this.#writing = undefined
    }
  }

  async #writeGroupIn(g: Group): Promise<void> {
    const { life } = this.#ctx
    const seg = this.#seg
    const epoch = life.epoch
    let { head, body, total } = this.#frame(g, seg.atStart)
    this.#lastGroupBytes = g.w.pos
    if (seg.full(total)) {
      await this.syncsDone()
      await this.#host.roll(g.baseLsn)
      if (epoch !== life.epoch) return
      ;({ head, body, total } = this.#frame(g, true))
    }
    seg.usedIds(g.ids)
    if (g.newNames.length > 0) await this.#names.persist(this.#ctx.io, this.#flush, g.newNames)
    // Failed or closed meanwhile: our fd numbers may already belong to someone else.
    if (epoch !== life.epoch) return
    const fd = seg.fd
    const offset = seg.writeOffset
    seg.writeOffset += total
    const t0 = performance.now()
    await this.#ctx.io.writev(fd, [head, body], offset)
    if (epoch !== life.epoch) return
    g.offset = offset
    g.endOffset = offset + total
    g.writeUs = (performance.now() - t0) * 1000
    if (!this.#flush.syncsCommits) {
      this.#flush.wrote()
      this.#markDurable(g)
      return
    }
    const prev = this.#syncing
    const p: Promise<void> = (async () => {
      if (prev) await prev
      if (epoch !== life.epoch) return
      const t1 = performance.now()
      // Covers g (written before this call) and possibly later writes; we only claim g.
      await this.#ctx.io.fdatasync(fd)
      if (epoch !== life.epoch) return
      g.syncUs = (performance.now() - t1) * 1000
      this.#markDurable(g)
    })().catch((err) => life.fail(err as Error))
    this.#syncing = p
    void p.then(() => {
      if (this.#syncing === p) this.#syncing = undefined
    })
  }

  // ------------------------------------------------------------------------------------------
  // caller-driven commits (Log.commitSync / commitAsync)

  commitSync(): CommitSyncResult {
    this.#callerCommits = true
    const { life, io } = this.#ctx
    if (life.state !== 'open') return 'idle'
    // The async path holds the I/O (sync(), a roll, a retry): never interleave with it.
    // (An unforced schedule made before the first commitSync stands down when it runs.)
    if (this.#pumping || (this.#scheduled && this.#scheduledForce) || this.#syncing || life.retrying)
      return 'busy'
    const cur = this.#cur
    if (cur) {
      const delay = this.#ctx.opts.groupCommitMaxDelayMs
      if (delay > 0 && !this.#urgent && performance.now() - cur.startedAt < delay) {
        // A deliberate group delay needs a timer: leave the group to the async pump.
        if (this.#ready.length === 0) {
          this.#schedule(true)
          return 'busy'
        }
      } else {
        this.#ready.push(cur)
        this.#cur = undefined
      }
    }
    if (this.#ready.length === 0) return 'idle'
    this.#urgent = false
    const seg = this.#seg
    const groups = this.#ready
    this.#ready = []
    const written: Group[] = []
    try {
      for (let i = 0; i < groups.length; i++) {
        const g = groups[i]!
        const { head, body, total } = this.#frame(g, seg.atStart)
        if (seg.full(total)) {
          // A roll opens files and fsyncs the directory: the async pump does it, after we sync ours.
          this.#ready = groups.slice(i)
          break
        }
        this.#lastGroupBytes = g.w.pos
        if (g.newNames.length > 0) this.#names.persistSync(io, this.#flush, g.newNames)
        const offset = seg.writeOffset
        seg.writeOffset += total
        const t0 = performance.now()
        io.writevSync(seg.fd, [head, body], offset)
        g.offset = offset
        g.endOffset = offset + total
        g.writeUs = (performance.now() - t0) * 1000
        seg.usedIds(g.ids)
        written.push(g)
      }
      if (written.length > 0) {
        if (this.#flush.syncsCommits) {
          const t1 = performance.now()
          io.fdatasyncSync(seg.fd)
          // One fdatasync for all of them: reported once, on the last group.
          written[written.length - 1]!.syncUs = (performance.now() - t1) * 1000
        } else {
          this.#flush.wrote()
        }
      }
    } catch (err) {
      life.fail(err as Error)
      return 'idle'
    }
    for (const g of written) this.#markDurable(g)
    if (this.#ready.length > 0) {
      this.#schedule(true)
      return 'busy'
    }
    return written.length > 0 ? 'written' : 'idle'
  }

  commitAsync(): void {
    this.#callerCommits = true
    if (this.#ctx.life.state !== 'open') return
    if (this.#cur || this.#ready.length > 0) this.#schedule(true)
  }

  #markDurable(g: Group): void {
    this.durableLsn = g.baseLsn + g.count - 1
    this.#host.durable(g)
    this.#buffers.recycle(g, 2 * (this.#ctx.opts.groupCommitMaxBytes + 1024))
    if (this.#syncWaiters.length > 0) this.#syncWaiters = release(this.#syncWaiters, this.durableLsn)
    if (this.#coverWaiters.length > 0) this.#coverWaiters = release(this.#coverWaiters, this.durableLsn)
  }
}

/** Resolve the waiters up to `durableLsn`; returns the others. */
function release(waiters: SyncWaiter[], durableLsn: number): SyncWaiter[] {
  const left: SyncWaiter[] = []
  for (const w of waiters) {
    if (w.lsn <= durableLsn) w.resolve()
    else left.push(w)
  }
  return left
}
