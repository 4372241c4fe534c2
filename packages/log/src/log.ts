// The writer: one per log directory, living in the engine's writer worker. See index.ts for the design.

import path from 'node:path'
import { crc32, zstdCompressSync } from 'node:zlib'
import { encodeCatalogEntry } from './catalog.ts'
import { type CommitInfo, type LogOptions, type ResolvedOptions, resolveOptions } from './config.ts'
import { createDurableSignal, publishDurable } from './durable-signal.ts'
import {
  AppendEncoder,
  catchUp,
  crc32Combine,
  EncodedReader,
  type GroupCrc,
  writeEncodedBatch,
} from './entry.ts'
import {
  MI_ERR_LOG_APPEND_INVALID,
  MI_ERR_LOG_CLOSED,
  MI_ERR_LOG_OPEN_FAILED,
  MI_ERR_LOG_UNAVAILABLE,
} from './errors.ts'
import {
  encodeSegmentHeader,
  indexName,
  kFlagBatchNames,
  kFlagNames,
  kFlagZstd,
  kGroupMagic,
  kGroupPrefixBytes,
  kSegmentHeaderBytes,
  segmentName,
  Writer,
} from './format.ts'
import { afs, fs } from './fsio.ts'
import { realIo, type WriterIo } from './io.ts'
import { acquireLock, forgetLock, releaseLock } from './lock.ts'
import {
  encodeWatermark,
  fsyncDir,
  kWatermarkBytes,
  kWatermarkFile,
  listGroups,
  storeCheckpoint,
  storeHwmSnapshot,
  writeFileAtomic,
} from './meta.ts'
import { type RecoveryReport, recover } from './recovery.ts'
import { buildIndexByScan, emptySeed } from './segments.ts'
import {
  encodeEntry,
  encodeSealedIndex,
  type IndexEntry,
  kIndexEntryBytes,
  kIndexMagic,
  loadIndex,
} from './sparse-index.ts'
import { type DamageStats, SealedVerifier, warnDamage } from './verifier.ts'

export interface AppendRecord {
  stream: string
  ts: number
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
}

/** Test-only hooks (exported from ./internal.ts). */
export const kCrash = Symbol('mi.log.crash')
export const kIo = Symbol('mi.log.io')

interface Group {
  epoch: number
  w: Writer
  baseLsn: number
  count: number
  baseRts: number
  maxRts: number
  firstTs: number
  hwm: Map<string, bigint>
  newNames: string[]
  startedAt: number
  /** crc32 of w's bytes, kept lazily (entry.ts: big batches' records are not read again). */
  crc: GroupCrc
  // set when written
  offset: number
  endOffset: number
  writeUs: number
  syncUs: number
}

interface SyncWaiter {
  lsn: number
  resolve: () => void
  reject: (e: Error) => void
}

interface SealedSeg {
  base: number
  sizeBytes: number
  maxRts: number // -1 unknown
  firstTs: number // -1 unknown
}

const kMaxNameChars = 1024

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
  /** The durable watermark for this process's readers (durable-signal.ts, watchDurable). */
  readonly durableSignal: Int32Array
  readonly dir: string
  moduleHwm(module: string): bigint
  sync(): Promise<void>
  retry(): Promise<boolean>
  stats(): LogStats
  close(): Promise<void>
}

export async function openLog(dir: string, options: LogOptions = {}): Promise<Log> {
  const opts = resolveOptions(options)
  const abs = path.resolve(dir)
  try {
    await afs.mkdir(abs, { recursive: true })
    // One writer per directory, and none while a repair tool holds it (lock.ts).
    await acquireLock(abs, 'writer', { waitMs: opts.lockWaitMs })
  } catch (err) {
    throw openFailed(abs, 'taking the directory lock', err)
  }
  try {
    const rec = await recover(abs, opts.indexIntervalBytes, opts.flush)
    const log = new LogImpl(abs, opts, rec)
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
  #opts: ResolvedOptions
  #io: WriterIo = realIo
  #state: 'open' | 'unavailable' | 'closed' = 'open'
  #epoch = 0
  #lastError: Error | undefined
  #report: RecoveryReport

  // active segment
  #activeBase: number
  #fd: number
  #writeOffset: number
  #durableOffset: number
  #entries: IndexEntry[]
  #lastIndexed: number
  #activeMaxRts: number
  #activeFirstTs: number
  #idxFd = -1
  #sealed: SealedSeg[] = []

  // lsns and high-water marks
  #nextLsn: number
  #durableLsn: number
  #hwm: Map<string, bigint>
  #durableHwm: Map<string, bigint>

  // catalog
  #names: string[]
  #ids = new Map<string, number>()
  #catalogFd: number
  #catalogBytes: number
  #catalogPersisted: number // names[0..n) are on disk

  // group commit
  #cur: Group | undefined
  #ready: Group[] = []
  #pumping: Promise<void> | undefined
  #scheduled = false
  #scheduledForce = false
  #wake: (() => void) | undefined
  #urgent = false
  #syncing: Promise<void> | undefined
  #syncWaiters: SyncWaiter[] = []
  #lastGroupBytes = 4096
  /** Set by the first commitSync(): commits are driven by the caller, not by #schedule. */
  #callerCommits = false

  // meta
  #wmFd: number
  #wmBuf = Buffer.alloc(kWatermarkBytes)
  #checkpointGen: number
  #hwmGen: number | undefined // snapshot the checkpoints' HWM deltas are over (undefined: write one)
  #hwmDirty = new Set<string>() // modules whose durable HWM changed since that snapshot
  #hwmGenAtOpen: number
  #checkpointing: Promise<void> | undefined
  #checkpointAgain = false
  #checkpointLsn = 0
  #bytesSinceCheckpoint = 0
  #timers: NodeJS.Timeout[] = []
  #retryTimer: NodeJS.Timeout | undefined
  #retrying: Promise<boolean> | undefined
  #retentionRunning: Promise<void> | undefined
  #flushDirty = false

  #durableCbs = new Set<(lsn: number) => void>()
  #errorCbs = new Set<(err: Error) => void>()
  #resumeCbs = new Set<() => void>()
  #stats = { commits: 0, committedRecords: 0, committedBytes: 0 }
  #verifier: SealedVerifier

  constructor(dir: string, opts: ResolvedOptions, rec: Awaited<ReturnType<typeof recover>>) {
    this.dir = dir
    this.#opts = opts
    this.#report = rec.report
    this.#activeBase = rec.activeBase
    this.#fd = rec.activeFd
    this.#writeOffset = rec.activeSize
    this.#durableOffset = rec.activeSize
    this.#entries = rec.activeEntries
    this.#lastIndexed = rec.activeLastIndexed
    this.#activeMaxRts = rec.activeMaxRts
    this.#activeFirstTs = rec.activeFirstTs
    this.#nextLsn = rec.nextLsn
    this.#durableLsn = rec.nextLsn - 1
    this.#hwm = new Map(rec.hwm)
    this.#durableHwm = new Map(rec.hwm)
    this.#names = rec.catalogNames
    for (const [i, n] of this.#names.entries()) this.#ids.set(n, i + 1)
    this.#catalogFd = rec.catalogFd
    this.#catalogBytes = rec.catalogBytes
    this.#catalogPersisted = rec.catalogNames.length
    this.#checkpointGen = rec.checkpointGen
    this.#hwmGenAtOpen = rec.hwmGen ?? 0
    for (const b of rec.bases)
      if (b !== rec.activeBase) this.#sealed.push({ base: b, sizeBytes: 0, maxRts: -1, firstTs: -1 })
    this.#wmFd = fs.openSync(
      path.join(dir, kWatermarkFile),
      fs.constants.O_RDWR | fs.constants.O_CREAT,
      0o644,
    )
    if (opts.onError) this.#errorCbs.add(opts.onError)
    this.#verifier = new SealedVerifier(
      dir,
      () => this.#sealed.map((s) => s.base),
      opts.onDamage ?? warnDamage,
    )
  }

  async init(): Promise<void> {
    // The live index of the active segment is rewritten from what recovery kept.
    const idxPath = path.join(this.dir, indexName(this.#activeBase))
    const live = Buffer.concat([kIndexMagic, ...this.#entries.map(encodeEntry)])
    await writeFileAtomic(idxPath, live, false)
    this.#idxFd = fs.openSync(idxPath, 'r+')
    for (const s of this.#sealed) {
      const file = path.join(this.dir, segmentName(s.base))
      s.sizeBytes = (await fs.promises.stat(file)).size
      const idx = await loadIndex(path.join(this.dir, indexName(s.base)))
      if (idx?.sealed) {
        s.maxRts = idx.sealed.maxRts
        s.firstTs = idx.sealed.firstTs
      }
    }
    this.#publishWatermark()
    await this.#checkpoint()
    const t = setInterval(() => {
      if (this.#durableLsn > this.#checkpointLsn) void this.#checkpoint()
    }, this.#opts.checkpointIntervalMs)
    t.unref()
    this.#timers.push(t)
    if (this.#opts.retention.maxAgeMs !== undefined || this.#opts.retention.maxBytes !== undefined) {
      const r = setInterval(() => void this.#runRetention(), this.#opts.retention.checkIntervalMs)
      r.unref()
      this.#timers.push(r)
    }
    if (this.#opts.flush === 'interval') {
      const f = setInterval(() => void this.#intervalFlush(), this.#opts.flushIntervalMs)
      f.unref()
      this.#timers.push(f)
    }
    // Sealed segments without a valid index get one in the background (readers rebuild in memory meanwhile).
    setImmediate(() => void this.#rebuildMissingIndexes())
    for (const c of this.#report.corruptions) this.#verifier.report({ ...c, foundBy: 'recovery' })
    this.#verifier.start(this.#opts.verifyIntervalMs)
  }

  get durableLsn(): number {
    return this.#durableLsn
  }

  moduleHwm(module: string): bigint {
    return this.#hwm.get(module) ?? 0n
  }

  onDurable(cb: (durableLsn: number) => void): () => void {
    this.#durableCbs.add(cb)
    return () => this.#durableCbs.delete(cb)
  }
  onError(cb: (err: Error) => void): () => void {
    this.#errorCbs.add(cb)
    return () => this.#errorCbs.delete(cb)
  }
  onResume(cb: () => void): () => void {
    this.#resumeCbs.add(cb)
    return () => this.#resumeCbs.delete(cb)
  }

  // ------------------------------------------------------------------------------------------
  // append: synchronous; encodes into the forming group.

  append(entry: AppendEntry): AppendResult {
    if (this.#state !== 'open') throw this.#stateError()
    const { module, core, seq, rts, records } = entry
    if (typeof module !== 'string' || module.length === 0 || module.length > kMaxNameChars) {
      throw new MI_ERR_LOG_APPEND_INVALID('module must be a non-empty string')
    }
    if (typeof core !== 'string' || core.length > kMaxNameChars)
      throw new MI_ERR_LOG_APPEND_INVALID('core must be a string')
    if (typeof seq !== 'bigint' || seq < 0n || seq > 0xffff_ffff_ffff_ffffn) {
      throw new MI_ERR_LOG_APPEND_INVALID('seq must be a u64 bigint')
    }
    if (!Number.isSafeInteger(rts) || rts < 0)
      throw new MI_ERR_LOG_APPEND_INVALID('rts must be a non-negative integer (µs)')
    if (!Array.isArray(records) || records.length === 0)
      throw new MI_ERR_LOG_APPEND_INVALID('records must be non-empty')
    for (const r of records) {
      if (typeof r.stream !== 'string' || r.stream.length === 0 || r.stream.length > kMaxNameChars) {
        throw new MI_ERR_LOG_APPEND_INVALID('stream must be a non-empty string')
      }
      if (!Number.isSafeInteger(r.ts)) throw new MI_ERR_LOG_APPEND_INVALID('ts must be an integer (µs)')
      if (!(r.body instanceof Uint8Array)) throw new MI_ERR_LOG_APPEND_INVALID('body must be a Uint8Array')
    }
    return this.appendEncoded(this.#encoder.encode(module, core, seq, rts, records))
  }

  #encoder = new AppendEncoder()
  #encoded = new EncodedReader()

  appendEncoded(encoded: Uint8Array): AppendResult {
    if (this.#state !== 'open') throw this.#stateError()
    const e = this.#encoded.read(encoded)
    let g = this.#cur
    if (!g) {
      g = this.#cur = {
        epoch: this.#epoch,
        w: new Writer(Math.min(this.#lastGroupBytes + 1024, this.#opts.groupCommitMaxBytes + 1024)),
        baseLsn: this.#nextLsn,
        count: 0,
        baseRts: e.rts,
        maxRts: e.rts,
        firstTs: e.firstTs,
        hwm: new Map(),
        newNames: [],
        startedAt: performance.now(),
        crc: { crc: 0, pos: 0 },
        offset: 0,
        endOffset: 0,
        writeUs: 0,
        syncUs: 0,
      }
    }
    const grp = g
    const ids = this.#encoded.ids(encoded, this.#epoch, (name) => this.#intern(name, grp))
    const { module, seq, rts } = e
    const w = g.w
    writeEncodedBatch(
      w,
      g.crc,
      encoded,
      e,
      this.#encoded.moduleId,
      this.#encoded.coreId,
      rts - g.baseRts,
      ids,
    )
    const firstLsn = this.#nextLsn
    this.#nextLsn += e.count
    g.count += e.count
    if (rts > g.maxRts) g.maxRts = rts
    const prevG = g.hwm.get(module)
    if (prevG === undefined || seq > prevG) g.hwm.set(module, seq)
    const prev = this.#hwm.get(module)
    if (prev === undefined || seq > prev) this.#hwm.set(module, seq)
    if (w.pos >= this.#opts.groupCommitMaxBytes) {
      this.#ready.push(g)
      this.#cur = undefined
      this.#wake?.()
    }
    this.#schedule()
    return { firstLsn, lastLsn: this.#nextLsn - 1 }
  }

  #intern(name: string, g: Group): number {
    let id = this.#ids.get(name)
    if (id === undefined) {
      id = this.#names.push(name)
      this.#ids.set(name, id)
      g.newNames.push(name)
    }
    return id
  }

  #stateError(): Error {
    if (this.#state === 'closed') return new MI_ERR_LOG_CLOSED('log')
    return new MI_ERR_LOG_UNAVAILABLE(this.#lastError?.message ?? 'unknown', { cause: this.#lastError })
  }

  // ------------------------------------------------------------------------------------------
  // group commit pump

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
        if (this.#state === 'open' && (this.#cur || this.#ready.length > 0))
          this.#schedule(this.#ready.length > 0)
      })
    })
  }

  async #pump(): Promise<void> {
    try {
      for (;;) {
        if (this.#state !== 'open') return
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
          const delay = this.#opts.groupCommitMaxDelayMs
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
      this.#fail(err as Error)
    }
  }

  #frame(g: Group, declareAll = false): { head: Buffer; body: Uint8Array; total: number } {
    let body: Uint8Array = g.w.buf.subarray(0, g.w.pos)
    const h = new Writer(48)
    h.ensure(kGroupPrefixBytes)
    h.pos = kGroupPrefixBytes
    let flags = kGroupMagic | kFlagBatchNames
    let compressed: Uint8Array | undefined
    if (this.#opts.compression === 'zstd' && body.length >= 256) {
      const c = zstdCompressSync(body)
      if (c.length + 8 < body.length) {
        compressed = c
        flags |= kFlagZstd
      }
    }
    // Names travel with the groups that first use them (and all of them in a segment's first group),
    // so the catalog can be rebuilt from the segments alone (catalog-rebuild.ts).
    const declared = this.#declaredNames(g, declareAll)
    if (declared) flags |= kFlagNames
    h.u8(flags)
    h.varint(g.baseLsn)
    h.varint(g.count)
    h.varint(g.baseRts)
    if (declared) {
      h.varint(declared.firstId)
      h.varint(declared.names.length)
      for (const n of declared.names) {
        const b = Buffer.from(n, 'utf8')
        h.varint(b.length)
        h.ensure(b.length)
        b.copy(h.buf, h.pos)
        h.pos += b.length
      }
    }
    if (compressed) {
      h.varint(body.length)
      body = compressed
    }
    const head = h.buf.subarray(0, h.pos)
    const payloadLen = head.length - kGroupPrefixBytes + body.length
    head.writeUInt32LE(payloadLen, 0)
    const headCrc = crc32(head.subarray(kGroupPrefixBytes))
    if (!compressed) catchUp(g.w, g.crc)
    head.writeUInt32LE(compressed ? crc32(body, headCrc) : crc32Combine(headCrc, g.crc.crc, body.length), 4)
    return { head, body, total: kGroupPrefixBytes + payloadLen }
  }

  async #writeGroup(g: Group): Promise<void> {
    const epoch = this.#epoch
    let { head, body, total } = this.#frame(g, this.#writeOffset === kSegmentHeaderBytes)
    this.#lastGroupBytes = g.w.pos
    if (this.#writeOffset > kSegmentHeaderBytes && this.#writeOffset + total > this.#opts.segmentSizeBytes) {
      await this.#roll(g.baseLsn)
      if (epoch !== this.#epoch) return
      ;({ head, body, total } = this.#frame(g, true))
    }
    if (g.newNames.length > 0) await this.#persistNames(g.newNames)
    // Failed or closed meanwhile: our fd numbers may already belong to someone else.
    if (epoch !== this.#epoch) return
    const fd = this.#fd
    const offset = this.#writeOffset
    this.#writeOffset += total
    const t0 = performance.now()
    await this.#io.writev(fd, [head, body], offset)
    if (epoch !== this.#epoch) return
    g.offset = offset
    g.endOffset = offset + total
    g.writeUs = (performance.now() - t0) * 1000
    if (this.#opts.flush !== 'always') {
      this.#flushDirty = true
      this.#markDurable(g)
      return
    }
    const prev = this.#syncing
    const p: Promise<void> = (async () => {
      if (prev) await prev
      if (epoch !== this.#epoch) return
      const t1 = performance.now()
      // Covers g (written before this call) and possibly later writes; we only claim g.
      await this.#io.fdatasync(fd)
      if (epoch !== this.#epoch) return
      g.syncUs = (performance.now() - t1) * 1000
      this.#markDurable(g)
    })().catch((err) => this.#fail(err as Error))
    this.#syncing = p
    void p.then(() => {
      if (this.#syncing === p) this.#syncing = undefined
    })
  }

  /** Names group `g` declares: its new ones, or (first group of a segment) every one it may use. */
  #declaredNames(g: Group, all: boolean): { firstId: number; names: string[] } | undefined {
    const upto = this.#catalogPersisted + g.newNames.length
    // A catalog too big to repeat per segment is declared only as it grows (rebuild then needs
    // the segment that introduced a name: see README "Catalog").
    if (all && upto > 0 && this.#catalogBytes <= this.#opts.segmentSizeBytes / 4)
      return { firstId: 1, names: this.#names.slice(0, upto) }
    if (g.newNames.length === 0) return undefined
    return { firstId: this.#catalogPersisted + 1, names: g.newNames }
  }

  commitSync(): CommitSyncResult {
    this.#callerCommits = true
    if (this.#state !== 'open') return 'idle'
    // The async path holds the I/O (sync(), a roll, a retry): never interleave with it.
    // (An unforced schedule made before the first commitSync stands down when it runs.)
    if (this.#pumping || (this.#scheduled && this.#scheduledForce) || this.#syncing || this.#retrying)
      return 'busy'
    const cur = this.#cur
    if (cur) {
      const delay = this.#opts.groupCommitMaxDelayMs
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
    const groups = this.#ready
    this.#ready = []
    const written: Group[] = []
    try {
      for (let i = 0; i < groups.length; i++) {
        const g = groups[i]!
        const { head, body, total } = this.#frame(g, this.#writeOffset === kSegmentHeaderBytes)
        if (
          this.#writeOffset > kSegmentHeaderBytes &&
          this.#writeOffset + total > this.#opts.segmentSizeBytes
        ) {
          // A roll opens files and fsyncs the directory: the async pump does it, after we sync ours.
          this.#ready = groups.slice(i)
          break
        }
        this.#lastGroupBytes = g.w.pos
        if (g.newNames.length > 0) this.#persistNamesSync(g.newNames)
        const offset = this.#writeOffset
        this.#writeOffset += total
        const t0 = performance.now()
        this.#io.writevSync(this.#fd, [head, body], offset)
        g.offset = offset
        g.endOffset = offset + total
        g.writeUs = (performance.now() - t0) * 1000
        written.push(g)
      }
      if (written.length > 0) {
        if (this.#opts.flush === 'always') {
          const t1 = performance.now()
          this.#io.fdatasyncSync(this.#fd)
          // One fdatasync for all of them: reported once, on the last group.
          written[written.length - 1]!.syncUs = (performance.now() - t1) * 1000
        } else {
          this.#flushDirty = true
        }
      }
    } catch (err) {
      this.#fail(err as Error)
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
    if (this.#state !== 'open') return
    if (this.#cur || this.#ready.length > 0) this.#schedule(true)
  }

  #persistNamesSync(names: string[]): void {
    // As #persistNames: the catalog entry is durable before any group naming it can be.
    const buf = Buffer.concat(names.map(encodeCatalogEntry))
    this.#io.writevSync(this.#catalogFd, [buf], this.#catalogBytes)
    if (this.#opts.flush === 'always') this.#io.fdatasyncSync(this.#catalogFd)
    this.#catalogBytes += buf.length
    this.#catalogPersisted += names.length
  }

  async #persistNames(names: string[]): Promise<void> {
    // The catalog entry must be durable before any group naming it can be: sync it first.
    const buf = Buffer.concat(names.map(encodeCatalogEntry))
    await this.#io.writev(this.#catalogFd, [buf], this.#catalogBytes)
    if (this.#opts.flush === 'always') await this.#io.fdatasync(this.#catalogFd)
    this.#catalogBytes += buf.length
    this.#catalogPersisted += names.length
  }

  #markDurable(g: Group): void {
    this.#durableLsn = g.baseLsn + g.count - 1
    this.#durableOffset = g.endOffset
    for (const [m, s] of g.hwm) {
      const prev = this.#durableHwm.get(m)
      if (prev === undefined || s > prev) {
        this.#durableHwm.set(m, s)
        this.#hwmDirty.add(m)
      }
    }
    if (g.offset >= this.#lastIndexed + this.#opts.indexIntervalBytes) {
      const e = { lsn: g.baseLsn, offset: g.offset, rtsMaxBefore: this.#activeMaxRts }
      this.#entries.push(e)
      this.#lastIndexed = g.offset
      try {
        fs.writeSync(
          this.#idxFd,
          encodeEntry(e),
          0,
          kIndexEntryBytes,
          8 + (this.#entries.length - 1) * kIndexEntryBytes,
        )
      } catch {
        // The live index is a hint; readers verify it and recovery rebuilds it.
      }
    }
    if (g.maxRts > this.#activeMaxRts) this.#activeMaxRts = g.maxRts
    if (this.#activeFirstTs < 0) this.#activeFirstTs = g.firstTs
    this.#stats.commits++
    this.#stats.committedRecords += g.count
    this.#stats.committedBytes += g.endOffset - g.offset
    this.#bytesSinceCheckpoint += g.endOffset - g.offset
    this.#publishWatermark()
    for (const cb of this.#durableCbs) cb(this.#durableLsn)
    this.#opts.onCommit?.({
      records: g.count,
      bytes: g.endOffset - g.offset,
      writeUs: g.writeUs,
      syncUs: g.syncUs,
      latencyUs: (performance.now() - g.startedAt) * 1000,
    } satisfies CommitInfo)
    if (this.#syncWaiters.length > 0) {
      const left: SyncWaiter[] = []
      for (const w of this.#syncWaiters) {
        if (w.lsn <= this.#durableLsn) w.resolve()
        else left.push(w)
      }
      this.#syncWaiters = left
    }
    if (this.#bytesSinceCheckpoint >= this.#opts.checkpointIntervalBytes) void this.#checkpoint()
  }

  #publishWatermark(): void {
    encodeWatermark(
      {
        durableLsn: this.#durableLsn,
        segBase: this.#activeBase,
        endOffset: this.#durableOffset,
        epoch: process.pid,
      },
      this.#wmBuf,
    )
    try {
      fs.writeSync(this.#wmFd, this.#wmBuf, 0, kWatermarkBytes, 0)
    } catch {
      // Readers fall back to polling an older value; the next commit rewrites it.
    }
    // Same-process waiters (durable-signal.ts): readers given it re-read the file after waking.
    publishDurable(this.durableSignal, this.#durableLsn)
  }

  // ------------------------------------------------------------------------------------------
  // segments

  async #roll(newBase: number): Promise<void> {
    while (this.#syncing) await this.#syncing
    const epoch = this.#epoch
    const oldBase = this.#activeBase
    const oldFd = this.#fd
    if (this.#opts.flush !== 'always') await this.#io.fdatasync(oldFd)
    if (epoch !== this.#epoch) return
    const file = path.join(this.dir, segmentName(newBase))
    let fd: number
    try {
      fd = fs.openSync(file, 'wx+')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      // Left over by a failed roll: it holds no durable data.
      fd = fs.openSync(file, 'r+')
      await this.#io.ftruncate(fd, 0)
    }
    try {
      await this.#io.writev(fd, [encodeSegmentHeader(newBase)], 0)
      await this.#io.fdatasync(fd)
      await fsyncDir(this.dir)
    } catch (err) {
      fs.closeSync(fd)
      throw err
    }
    if (epoch !== this.#epoch) {
      // Closed or failed meanwhile: our old fd numbers may already belong to someone else.
      fs.closeSync(fd)
      return
    }
    const summary = {
      lastLsn: newBase - 1,
      endOffset: this.#writeOffset,
      maxRts: this.#activeMaxRts,
      firstTs: this.#activeFirstTs,
    }
    try {
      await writeFileAtomic(
        path.join(this.dir, indexName(oldBase)),
        encodeSealedIndex(this.#entries, summary),
        false,
      )
    } catch {
      // Rebuilt on next open or in memory by readers.
    }
    if (epoch !== this.#epoch) {
      fs.closeSync(fd)
      return
    }
    this.#sealed.push({
      base: oldBase,
      sizeBytes: this.#writeOffset,
      maxRts: summary.maxRts,
      firstTs: summary.firstTs,
    })
    fs.closeSync(oldFd)
    if (this.#idxFd >= 0) fs.closeSync(this.#idxFd)
    const idxPath = path.join(this.dir, indexName(newBase))
    fs.writeFileSync(idxPath, kIndexMagic)
    this.#idxFd = fs.openSync(idxPath, 'r+')
    this.#activeBase = newBase
    this.#fd = fd
    this.#writeOffset = kSegmentHeaderBytes
    this.#durableOffset = kSegmentHeaderBytes
    this.#entries = []
    this.#lastIndexed = -Infinity
    this.#activeMaxRts = -1
    this.#activeFirstTs = -1
    await this.#checkpoint()
    void this.#runRetention()
  }

  async #checkpoint(): Promise<void> {
    if (this.#checkpointing) {
      this.#checkpointAgain = true
      return this.#checkpointing
    }
    this.#checkpointing = (async () => {
      do {
        this.#checkpointAgain = false
        if (this.#state === 'closed') return
        // Module HWMs: a full snapshot (hwm.0|1) only when the changes since the last one are many;
        // otherwise the checkpoint carries just the changed modules (60k modules: not 7 MB per checkpoint).
        const dirty = this.#hwmDirty
        const full = this.#hwmGen === undefined || dirty.size > Math.max(1024, this.#durableHwm.size / 4)
        const hwmGen = full ? (this.#hwmGen ?? this.#hwmGenAtOpen) + 1 : this.#hwmGen!
        const taken = new Map(full ? this.#durableHwm : [...dirty].map((m) => [m, this.#durableHwm.get(m)!]))
        const text = Object.fromEntries([...taken].map(([m, s]) => [m, s.toString()]))
        const snap = {
          segBase: this.#activeBase,
          offset: this.#durableOffset,
          nextLsn: this.#durableLsn + 1,
          catalogCount: this.#catalogPersisted,
          hwm: full ? {} : text,
          hwmGen,
          maxRts: this.#activeMaxRts,
          firstTs: this.#activeFirstTs,
        }
        const fd = this.#fd
        const bytes = this.#bytesSinceCheckpoint
        try {
          if (this.#opts.flush !== 'always') {
            // Under weaker policies the checkpoint must not point past what is on disk.
            await this.#io.fdatasync(this.#catalogFd)
            await this.#io.fdatasync(fd)
          }
          if (this.#isClosed()) return
          if (full) {
            await storeHwmSnapshot(this.dir, { gen: hwmGen, hwm: text })
            this.#hwmGen = hwmGen
            // Modules that changed again meanwhile stay dirty.
            for (const [m, v] of taken) if (this.#durableHwm.get(m) === v) dirty.delete(m)
          }
          if (this.#isClosed()) return
          await storeCheckpoint(this.dir, { gen: ++this.#checkpointGen, ...snap })
          this.#checkpointLsn = snap.nextLsn - 1
          this.#bytesSinceCheckpoint -= bytes
        } catch {
          // A missed checkpoint only lengthens the next recovery scan.
        }
      } while (this.#checkpointAgain)
    })()
    try {
      await this.#checkpointing
    } finally {
      this.#checkpointing = undefined
    }
  }

  async #intervalFlush(): Promise<void> {
    if (!this.#flushDirty || this.#state !== 'open') return
    this.#flushDirty = false
    const epoch = this.#epoch
    try {
      await this.#io.fdatasync(this.#fd)
    } catch (err) {
      if (epoch === this.#epoch) this.#fail(err as Error)
    }
  }

  async #rebuildMissingIndexes(): Promise<void> {
    for (const s of [...this.#sealed]) {
      if (this.#state === 'closed') return
      if (s.maxRts >= 0) continue
      const idxPath = path.join(this.dir, indexName(s.base))
      const idx = await loadIndex(idxPath)
      if (idx?.sealed) continue
      let fd: number
      try {
        fd = fs.openSync(path.join(this.dir, segmentName(s.base)), 'r')
      } catch {
        continue // deleted by retention meanwhile
      }
      try {
        const size = fs.fstatSync(fd).size
        const b = await buildIndexByScan(fd, size, this.#opts.indexIntervalBytes, emptySeed())
        if (b.stop.reason) continue // corrupt: readers report it; recovery or verify quarantines it
        s.maxRts = b.summary.maxRts
        s.firstTs = b.summary.firstTs
        await writeFileAtomic(idxPath, encodeSealedIndex(b.entries, b.summary), false)
      } catch {
        // best effort
      } finally {
        fs.closeSync(fd)
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // retention

  #runRetention(): Promise<void> {
    if (!this.#retentionRunning && this.#state !== 'closed') {
      // Best effort: a failed pass (e.g. EIO on unlink) is retried on the next timer tick.
      this.#retentionRunning = this.#retention()
        .catch(() => {})
        .finally(() => {
          this.#retentionRunning = undefined
        })
    }
    return this.#retentionRunning ?? Promise.resolve()
  }

  async #retention(): Promise<void> {
    const r = this.#opts.retention
    if (r.maxAgeMs === undefined && r.maxBytes === undefined) return
    if (this.#state === 'closed') return
    const groups = new Map((await listGroups(this.dir)).map((g) => [g.name, g.nextLsn]))
    const nowUs = Date.now() * 1000
    let total = this.#writeOffset
    for (const s of this.#sealed) total += s.sizeBytes
    let deleted = 0
    while (this.#sealed.length > 0) {
      const s = this.#sealed[0]!
      const next = this.#sealed[1]?.base ?? this.#activeBase
      const lastLsn = next - 1
      if (s.maxRts < 0) {
        const idx = await loadIndex(path.join(this.dir, indexName(s.base)))
        if (idx?.sealed) s.maxRts = idx.sealed.maxRts
      }
      const ageMs = s.maxRts >= 0 ? (nowUs - s.maxRts) / 1000 : 0
      const byAge = r.maxAgeMs !== undefined && ageMs > r.maxAgeMs
      const bySize = r.maxBytes !== undefined && total > r.maxBytes
      if (!byAge && !bySize) break
      const unconsumed = r.protectGroups.some((name) => (groups.get(name) ?? 1) <= lastLsn)
      const forced = r.forceDeleteAfterMs !== undefined && ageMs > r.forceDeleteAfterMs
      if (unconsumed && !forced) break
      await afs.rm(path.join(this.dir, segmentName(s.base)), { force: true })
      await afs.rm(path.join(this.dir, indexName(s.base)), { force: true })
      total -= s.sizeBytes
      this.#sealed.shift()
      deleted++
    }
    if (deleted > 0) await fsyncDir(this.dir)
  }

  // ------------------------------------------------------------------------------------------
  // failure and resume

  #fail(err: Error): void {
    if (this.#state !== 'open') return
    this.#state = 'unavailable'
    this.#epoch++
    this.#lastError = err
    // Everything not yet durable is discarded: the engine answers those sessions OVERLOADED and
    // clients resend from HELLO_OK's seq, so high-water marks fall back to their durable values.
    this.#cur = undefined
    this.#ready = []
    this.#nextLsn = this.#durableLsn + 1
    this.#hwm = new Map(this.#durableHwm)
    for (const n of this.#names.splice(this.#catalogPersisted)) this.#ids.delete(n)
    const e = new MI_ERR_LOG_UNAVAILABLE(err.message, { cause: err })
    for (const w of this.#syncWaiters) w.reject(e)
    this.#syncWaiters = []
    for (const cb of this.#errorCbs) cb(e)
    this.#armRetry()
  }

  #armRetry(): void {
    clearTimeout(this.#retryTimer)
    // Ref'd on purpose: a writer waiting for the disk to come back is live work; close() clears it.
    this.#retryTimer = setTimeout(() => void this.retry(), this.#opts.retryIntervalMs)
  }

  retry(): Promise<boolean> {
    if (this.#state === 'open') return Promise.resolve(true)
    if (this.#state === 'closed') return Promise.resolve(false)
    this.#retrying ??= this.#doRetry().finally(() => {
      this.#retrying = undefined
    })
    return this.#retrying
  }

  async #doRetry(): Promise<boolean> {
    try {
      await this.#pumping
      while (this.#syncing) await this.#syncing
      const io = this.#io
      // Cut what was written but never durable, then prove we can write and sync again.
      await io.ftruncate(this.#fd, this.#durableOffset)
      await io.writev(this.#fd, [Buffer.alloc(64 * 1024)], this.#durableOffset)
      await io.fdatasync(this.#fd)
      await io.ftruncate(this.#fd, this.#durableOffset)
      await io.fdatasync(this.#fd)
      await io.ftruncate(this.#catalogFd, this.#catalogBytes)
      await io.fdatasync(this.#catalogFd)
    } catch (err) {
      this.#lastError = err as Error
      if (this.#state === 'unavailable') this.#armRetry()
      return false
    }
    if (this.#state !== 'unavailable') return false
    this.#writeOffset = this.#durableOffset
    this.#state = 'open'
    this.#lastError = undefined
    clearTimeout(this.#retryTimer)
    for (const cb of this.#resumeCbs) cb()
    return true
  }

  // ------------------------------------------------------------------------------------------

  sync(): Promise<void> {
    if (this.#state !== 'open') return Promise.reject(this.#stateError())
    const target = this.#nextLsn - 1
    const done =
      target <= this.#durableLsn
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            this.#syncWaiters.push({ lsn: target, resolve, reject })
            this.#urgent = true
            this.#wake?.()
            this.#schedule()
          })
    if (this.#opts.flush === 'always') return done
    return done.then(async () => {
      await this.#io.fdatasync(this.#fd)
    })
  }

  stats(): LogStats {
    let bytes = this.#writeOffset
    for (const s of this.#sealed) bytes += s.sizeBytes
    const oldest = this.#sealed.length > 0 ? this.#sealed[0]!.firstTs : this.#activeFirstTs
    return {
      state: this.#state,
      bytesOnDisk: bytes,
      segments: this.#sealed.length + 1,
      oldestRecordTsUs: oldest >= 0 ? oldest : undefined,
      durableLsn: this.#durableLsn,
      lastAppendedLsn: this.#nextLsn - 1,
      pendingRecords: this.#nextLsn - 1 - this.#durableLsn,
      ...this.#stats,
      recovery: this.#report,
      damage: { ...this.#verifier.stats },
    }
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return
    if (this.#state === 'open') {
      try {
        await this.sync()
      } catch {
        // unavailable: keep what is durable
      }
    }
    while (this.#syncing) await this.#syncing
    await this.#retentionRunning
    if (this.#state === 'open') await this.#checkpoint()
    await this.#checkpointing
    await this.#verifier.stop()
    this.#shutdown()
    await releaseLock(this.dir)
  }

  #isClosed(): boolean {
    return this.#state === 'closed'
  }

  #shutdown(): void {
    this.#state = 'closed'
    this.#epoch++
    for (const t of this.#timers) clearInterval(t)
    void this.#verifier.stop()
    clearTimeout(this.#retryTimer)
    for (const w of this.#syncWaiters) w.reject(new MI_ERR_LOG_CLOSED('log'))
    this.#syncWaiters = []
    for (const fd of [this.#fd, this.#idxFd, this.#catalogFd, this.#wmFd]) {
      try {
        fs.closeSync(fd)
      } catch {}
    }
  }

  /** Test hook: stop like a SIGKILL would (no flush, no checkpoint); written bytes stay in the page cache. */
  [kCrash](): void {
    this.#shutdown()
    forgetLock(this.dir)
  }

  set [kIo](io: WriterIo) {
    this.#io = io
  }
}
