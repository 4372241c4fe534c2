// Readers: any thread or process, never a lock the writer could wait on. They read segment files
// with their own fds, bounded by the durable watermark the writer publishes (see index.ts).
import fs from 'node:fs'
import path from 'node:path'
import type { SubscriberRecord } from '@module-ingest/subscriber-sdk/record'
import { CatalogView, kCatalogFile } from './catalog.ts'
import { watchDurable } from './durable-signal.ts'
import { MI_ERR_LOG_CLOSED, MI_ERR_LOG_CORRUPT } from './errors.ts'
import {
  checkGroup,
  type DecodedBatch,
  forEachBatch,
  type GroupHeader,
  groupBody,
  indexName,
  kSegmentHeaderBytes,
  segmentName,
} from './format.ts'
import {
  decodeWatermark,
  kWatermarkBytes,
  kWatermarkFile,
  listGroupsSync,
  loadQuarantine,
  type QuarantineEntry,
  readGroupSync,
  type Watermark,
  writeGroup,
} from './meta.ts'
import { findNextGroup, readAt } from './scan.ts'
import { buildIndexByScan, emptySeed, listSegmentBases } from './segments.ts'
import { floorByLsn, floorByRts, type IndexEntry, loadIndex, type SegmentSummary } from './sparse-index.ts'

/** A committed record: the SDK's `SubscriberRecord`, one declaration for the log, tools and plugins. */
export type StoredRecord = SubscriberRecord

export interface ReaderOptions {
  /** The writer's `log.durableSignal` (same process): waited on instead of the watermark file. */
  durableSignal?: Int32Array
  /** Fallback poll period for the watermark file: default 50 ms, 1 s with `durableSignal`. */
  pollIntervalMs?: number
  /**
   * Called for every damaged range a cursor of this reader skips. Default: a process warning
   * (`process.emitWarning`, type 'MiLogGap') naming segment, offset and the lost lsns.
   */
  onGap?: (gap: LogGap) => void
}

export interface CursorOptions {
  fromLsn?: number
  fromTimeUs?: number
  streams?: string[]
  /** Overrides the reader's `onGap` for this cursor. */
  onGap?: (gap: LogGap) => void
  /**
   * Decode at most about this many bytes of groups per event-loop turn: a read() of a large chunk
   * (its size is the read's maxBytes) CRC-checks and decodes it in slices, yielding with
   * setImmediate between them. For a cursor on a thread that also serves sockets (the subscriber
   * runtime's, on the server's main thread); the chunk is still read with one I/O.
   */
  sliceBytes?: number
}

/**
 * Records a cursor could not serve: a damaged group (CRC, structure, unknown name) or a missing
 * range between segments. The cursor skips to the next intact group and goes on (like Vector's
 * disk buffer: skip and count, never stop). `fromLsn..toLsn` are the lsns lost (`records` of them).
 */
export interface LogGap {
  segment: string
  offset: number
  /** Where reading resumed in `segment` (its durable end when nothing intact followed). */
  resumeOffset: number
  fromLsn: number
  toLsn: number
  records: number
  reason: string
}

function warnGap(g: LogGap): void {
  process.emitWarning(
    `log segment ${g.segment} is damaged at offset ${g.offset} (${g.reason}): skipped lsns ${g.fromLsn}..${g.toLsn} ` +
      `(${g.records} records), resumed at offset ${g.resumeOffset}. Run \`module-ingest-recover-dump verify\``,
    { type: 'MiLogGap' },
  )
}

export interface ReadOptions {
  maxRecords?: number
  maxBytes?: number
}

export interface WaitOptions {
  signal?: AbortSignal
  timeoutMs?: number
}

export interface GroupInfo {
  name: string
  nextLsn: number
  lag: number
}

export interface Groups {
  get(name: string): number
  commit(name: string, nextLsn: number): Promise<void>
  list(): GroupInfo[]
}

interface SegIndex {
  entries: IndexEntry[]
  sealed?: SegmentSummary
  verified: boolean // entries come from a sealed file or our own scan (not writer hints)
}

const kDefaultChunk = 256 * 1024

export async function openReader(dir: string, options: ReaderOptions = {}): Promise<Reader> {
  const r = new Reader(path.resolve(dir), options)
  await r.refresh()
  return r
}

export class Reader {
  readonly dir: string
  readonly groups: Groups
  readonly catalog: CatalogView
  #opts: ReaderOptions
  #wmFd = -1
  #wmBuf = Buffer.alloc(kWatermarkBytes)
  #last: Watermark = { durableLsn: 0, segBase: 0, endOffset: 0, epoch: 0 }
  #bases: number[] = []
  #indexes = new Map<number, SegIndex>()
  #quarantine: QuarantineEntry[] = []
  #closed = false
  #watcher: fs.FSWatcher | undefined
  #waiters = new Set<() => void>()
  #pollTimer: NodeJS.Timeout | undefined
  #commitChains = new Map<string, Promise<void>>()
  #cursors = new Set<Cursor>()
  /** @internal */
  readonly onGap: (gap: LogGap) => void

  constructor(dir: string, opts: ReaderOptions) {
    this.onGap = opts.onGap ?? warnGap
    this.dir = dir
    this.#opts = opts
    this.catalog = new CatalogView(path.join(dir, kCatalogFile))
    this.groups = {
      get: (name) => readGroupSync(this.dir, name) ?? 1,
      commit: (name, nextLsn) => this.#commitGroup(name, nextLsn),
      list: () => {
        const durable = this.durableLsn()
        return listGroupsSync(this.dir).map((g) => ({ ...g, lag: Math.max(0, durable + 1 - g.nextLsn) }))
      },
    }
  }

  async refresh(): Promise<void> {
    this.#bases = await listSegmentBases(this.dir)
    this.#quarantine = await loadQuarantine(this.dir)
    await this.catalog.refresh()
  }

  get bases(): readonly number[] {
    return this.#bases
  }
  get quarantine(): readonly QuarantineEntry[] {
    return this.#quarantine
  }

  /** The writer's last published watermark (0 before any writer ran). */
  watermark(): Watermark {
    if (this.#closed) throw new MI_ERR_LOG_CLOSED('reader')
    if (this.#wmFd < 0) {
      try {
        this.#wmFd = fs.openSync(path.join(this.dir, kWatermarkFile), 'r')
      } catch {
        return this.#last
      }
    }
    // The writer rewrites these 40 bytes in place; a read racing it fails the CRC: retry.
    for (let i = 0; i < 10; i++) {
      const n = fs.readSync(this.#wmFd, this.#wmBuf, 0, kWatermarkBytes, 0)
      const w = n === kWatermarkBytes ? decodeWatermark(this.#wmBuf) : undefined
      if (w) {
        this.#last = w
        return w
      }
    }
    return this.#last
  }

  durableLsn(): number {
    return this.watermark().durableLsn
  }

  cursor(options: CursorOptions = {}): Cursor {
    return this.groupedCursor(options)
  }

  /** @internal group-cursor.ts: a cursor whose pending items are whole groups (`decoder`). */
  groupedCursor(options: CursorOptions, decoder?: GroupDecoder): Cursor {
    if (this.#closed) throw new MI_ERR_LOG_CLOSED('reader')
    const c = new Cursor(this, options, decoder)
    this.#cursors.add(c)
    return c
  }

  async #commitGroup(name: string, nextLsn: number): Promise<void> {
    if (!Number.isSafeInteger(nextLsn) || nextLsn < 1)
      throw new RangeError(`nextLsn must be a positive integer, got ${nextLsn}`)
    // Per-group chain: a slower older rename must never land after a newer one.
    const prev = this.#commitChains.get(name) ?? Promise.resolve()
    const p = prev.catch(() => {}).then(() => writeGroup(this.dir, name, nextLsn))
    this.#commitChains.set(name, p)
    try {
      await p
    } finally {
      if (this.#commitChains.get(name) === p) this.#commitChains.delete(name)
    }
  }

  // ---- segment directory ------------------------------------------------------------------

  /** @internal */
  async segmentIndex(base: number, sealed: boolean): Promise<SegIndex> {
    const cached = this.#indexes.get(base)
    if (cached && (cached.sealed || !sealed)) return cached
    const file = await loadIndex(path.join(this.dir, indexName(base)))
    let idx: SegIndex
    if (file?.sealed) idx = { entries: file.entries, sealed: file.sealed, verified: true }
    else if (!sealed) idx = { entries: file?.entries ?? [], verified: false }
    else {
      // Sealed but its index is missing or torn: rebuild in memory (the writer rewrites the file).
      const fd = fs.openSync(path.join(this.dir, segmentName(base)), 'r')
      try {
        const b = await buildIndexByScan(fd, fs.fstatSync(fd).size, 64 * 1024, emptySeed())
        idx = { entries: b.entries, sealed: b.summary, verified: true }
      } finally {
        fs.closeSync(fd)
      }
    }
    if (idx.sealed) this.#indexes.set(base, idx)
    return idx
  }

  /** @internal: the segment after `base`, re-listing the directory if needed. */
  async nextBase(base: number): Promise<number | undefined> {
    let next = this.#bases.find((b) => b > base)
    if (next === undefined) {
      await this.refresh()
      next = this.#bases.find((b) => b > base)
    }
    return next
  }

  /** @internal */
  quarantinedAt(base: number): QuarantineEntry | undefined {
    const name = segmentName(base)
    return this.#quarantine.find((q) => q.segment === name)
  }

  // ---- waiting ------------------------------------------------------------------------------

  /** @internal: resolves on the next watermark change event (or poll tick). */
  onChange(cb: () => void): () => void {
    this.#waiters.add(cb)
    this.#startWatching()
    return () => {
      this.#waiters.delete(cb)
      if (this.#waiters.size === 0) this.#stopWatching()
    }
  }

  #notify = (): void => {
    for (const cb of [...this.#waiters]) cb()
  }

  #startWatching(): void {
    if (this.#pollTimer) return
    // In the writer's process, its durable signal (durable-signal.ts); elsewhere inotify on the
    // watermark file. A poll is the floor for missed events (a writer of another process).
    const sig = this.#opts.durableSignal
    if (sig) this.#unwatch = watchDurable(sig, this.#notify)
    else {
      try {
        this.#watcher = fs.watch(path.join(this.dir, kWatermarkFile), { persistent: false }, this.#notify)
        this.#watcher.on('error', () => {})
      } catch {
        this.#watcher = undefined
      }
    }
    this.#pollTimer = setInterval(this.#notify, this.#opts.pollIntervalMs ?? (sig ? 1000 : 50))
  }

  #unwatch: (() => void) | undefined

  #stopWatching(): void {
    this.#unwatch?.()
    this.#unwatch = undefined
    this.#watcher?.close()
    this.#watcher = undefined
    clearInterval(this.#pollTimer)
    this.#pollTimer = undefined
  }

  async close(): Promise<void> {
    if (this.#closed) return
    for (const c of this.#cursors) c.close()
    await Promise.allSettled([...this.#commitChains.values()])
    this.#notify()
    this.#stopWatching()
    this.#closed = true
    if (this.#wmFd >= 0) fs.closeSync(this.#wmFd)
  }

  /** @internal */
  forget(c: Cursor): void {
    this.#cursors.delete(c)
  }
}

interface Pending {
  /** StoredRecords, or the decoder's groups for a grouped cursor. */
  records: unknown[]
  i: number
}

/**
 * @internal How a grouped cursor (group-cursor.ts) decodes: one item per group instead of one
 * record object per record. `decode` throws RangeError on a malformed body (the cursor turns it
 * into a skipped gap) and resolves catalog ids with `name`; `take` hands items out of `read()`.
 */
export interface GroupDecoder {
  decode(
    h: GroupHeader,
    body: Uint8Array,
    fromLsn: number,
    name: (id: number) => Promise<string>,
  ): Promise<unknown>
  /** Moves items[i] to `out`; returns the lsn after it, or undefined when the budget is full. */
  take(item: unknown, out: unknown[], budget: ReadBudget): number | undefined
}

/** @internal What a read() may still hand out; `minRts`: skip records received before it. */
export interface ReadBudget {
  records: number
  bytes: number
  minRts: number | undefined
}

export class Cursor {
  #reader: Reader
  #opts: CursorOptions
  #base = -1
  #fd = -1
  #offset = 0
  #nextLsn: number
  #minRts: number | undefined
  #pending: Pending | undefined
  #positioned = false
  #closed = false
  #error: Error | undefined
  #bad: { offset: number; reason: string } | undefined
  #expect: number | undefined // baseLsn the next group must have (unknown right after positioning)
  #gaps: LogGap[] = []
  #skipped = 0
  #streamIds = new Map<number, boolean>()
  #streams: Set<string> | undefined

  #decoder: GroupDecoder | undefined

  constructor(reader: Reader, opts: CursorOptions, decoder?: GroupDecoder) {
    this.#reader = reader
    this.#opts = opts
    this.#decoder = decoder
    this.#nextLsn = Math.max(1, Math.floor(opts.fromLsn ?? 1))
    this.#minRts = opts.fromTimeUs
    this.#streams = opts.streams ? new Set(opts.streams) : undefined
  }

  /** Next lsn this cursor will consider (records before it were returned or skipped). */
  get nextLsn(): number {
    return this.#nextLsn
  }

  async #open(base: number): Promise<boolean> {
    if (this.#fd >= 0) fs.closeSync(this.#fd)
    this.#fd = -1
    try {
      this.#fd = fs.openSync(path.join(this.#reader.dir, segmentName(base)), 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false // removed by retention
      throw err
    }
    this.#base = base
    this.#offset = kSegmentHeaderBytes
    this.#expect = undefined
    return true
  }

  async #position(): Promise<void> {
    const r = this.#reader
    await r.refresh()
    const wm = r.watermark()
    const bases = r.bases
    if (bases.length === 0) return
    let target = bases[0]!
    if (this.#opts.fromTimeUs !== undefined && this.#opts.fromLsn === undefined) {
      // First segment whose newest receive time reaches fromTimeUs (binary search over sealed ones).
      let lo = 0
      let hi = bases.length - 2
      let found = bases.length - 1
      while (lo <= hi) {
        const mid = (lo + hi) >> 1
        const idx = await r.segmentIndex(bases[mid]!, true)
        if ((idx.sealed?.maxRts ?? -1) >= this.#opts.fromTimeUs) {
          found = mid
          hi = mid - 1
        } else lo = mid + 1
      }
      target = bases[found]!
    } else {
      for (const b of bases) if (b <= this.#nextLsn) target = b
    }
    if (!(await this.#open(target))) return this.#position()
    const sealed = target !== bases.at(-1) || wm.segBase > target
    const idx = await r.segmentIndex(target, sealed)
    const entry =
      this.#opts.fromTimeUs !== undefined && this.#opts.fromLsn === undefined
        ? floorByRts(idx.entries, this.#opts.fromTimeUs)
        : floorByLsn(idx.entries, this.#nextLsn)
    if (entry && entry.offset > kSegmentHeaderBytes) {
      let ok = idx.verified
      if (!ok) {
        // Hints from the live index: trust only if the group there is durable and says so.
        const limit = wm.segBase === target ? wm.endOffset : wm.segBase > target ? Infinity : 0
        if (entry.offset < limit) {
          const head = await readAt(this.#fd, entry.offset, 64)
          const c = checkGroup(head, 0, entry.offset, false)
          ok = (c.ok || c.needBytes !== undefined) && head.length >= 16 && peekBaseLsn(head) === entry.lsn
        }
      }
      if (ok) this.#offset = entry.offset
    }
    if (this.#nextLsn < target) this.#nextLsn = target
    this.#positioned = true
  }

  /** Damaged ranges this cursor skipped (the last 100) and how many records they held in all. */
  get gaps(): readonly LogGap[] {
    return this.#gaps
  }
  get skippedRecords(): number {
    return this.#skipped
  }

  #gap(offset: number, resumeOffset: number, toLsn: number, reason: string): void {
    const fromLsn = Math.max(this.#nextLsn, this.#expect ?? this.#nextLsn)
    if (toLsn >= fromLsn) {
      const g: LogGap = {
        segment: segmentName(this.#base),
        offset,
        resumeOffset,
        fromLsn,
        toLsn,
        records: toLsn - fromLsn + 1,
        reason,
      }
      this.#skipped += g.records
      this.#gaps.push(g)
      if (this.#gaps.length > 100) this.#gaps.shift()
      ;(this.#opts.onGap ?? this.#reader.onGap)(g)
      this.#nextLsn = toLsn + 1
    }
    this.#expect = undefined
  }

  /**
   * Skip the bad group at #bad: resume at the next intact group of this segment (scan.ts
   * findNextGroup), or at `limit` (the durable end / segment end) when none follows.
   */
  async #skipBad(limit: number, wm: Watermark): Promise<void> {
    const bad = this.#bad!
    this.#bad = undefined
    const minLsn = this.#expect ?? this.#base
    const next = await findNextGroup(this.#fd, bad.offset, limit, minLsn, this.#base + limit)
    if (next !== undefined) {
      const head = await readAt(this.#fd, next, 64)
      this.#gap(bad.offset, next, peekBaseLsn(head) - 1, bad.reason)
      this.#offset = next
      return
    }
    // Nothing intact up to the limit: the lost lsns end where the next segment (or durable data) starts.
    let toLsn: number
    if (wm.segBase === this.#base) toLsn = wm.durableLsn
    else toLsn = ((await this.#reader.nextBase(this.#base)) ?? wm.durableLsn + 1) - 1
    this.#gap(bad.offset, limit, toLsn, bad.reason)
    this.#offset = limit
  }

  async read(options: ReadOptions = {}): Promise<StoredRecord[]> {
    return (await this.readItems(options)) as StoredRecord[]
  }

  /** @internal read() for a grouped cursor: its decoder's items. */
  async readItems(options: ReadOptions = {}): Promise<unknown[]> {
    if (this.#closed) throw new MI_ERR_LOG_CLOSED('cursor')
    const maxRecords = options.maxRecords ?? 1000
    const maxBytes = options.maxBytes ?? 1024 * 1024
    const out: unknown[] = []
    let bytes = 0
    if (!this.#positioned) {
      await this.#position()
      if (!this.#positioned) return out
    }
    const r = this.#reader
    // A grouped cursor's decoder counts records and bytes down in here.
    const budget: ReadBudget = { records: maxRecords, bytes: maxBytes, minRts: undefined }
    for (;;) {
      // 1. hand out what is decoded
      const p = this.#pending
      if (p && this.#decoder) {
        while (p.i < p.records.length) {
          budget.minRts = this.#minRts
          const next = this.#decoder.take(p.records[p.i], out, budget)
          if (next === undefined) return out
          p.i++
          this.#nextLsn = next
          this.#minRts = budget.minRts
        }
        this.#pending = undefined
      } else if (p) {
        while (p.i < p.records.length) {
          const rec = p.records[p.i] as StoredRecord
          if (out.length >= maxRecords || (out.length > 0 && bytes + rec.body.length > maxBytes)) return out
          p.i++
          this.#nextLsn = rec.lsn + 1
          if (this.#minRts !== undefined) {
            if (rec.rts < this.#minRts) continue
            this.#minRts = undefined
          }
          if (this.#streams && !this.#streams.has(rec.stream)) continue
          out.push(rec)
          bytes += rec.body.length
        }
        this.#pending = undefined
      }
      // 2. an I/O error (not damage: damage is skipped) waits for a call of its own.
      if (this.#error) {
        if (out.length > 0) return out
        throw this.#error
      }
      // 3. decode the next durable group(s)
      const wm = r.watermark()
      if (this.#nextLsn > wm.durableLsn) return out
      const limit =
        wm.segBase === this.#base ? wm.endOffset : wm.segBase > this.#base ? fs.fstatSync(this.#fd).size : 0
      // Everything before a bad group has been handed out: skip it, account for it, go on.
      if (this.#bad) {
        await this.#skipBad(limit, wm)
        continue
      }
      if (this.#offset >= limit) {
        if (wm.segBase <= this.#base) return out
        const next = await r.nextBase(this.#base)
        if (next === undefined) return out
        if (next > this.#nextLsn) {
          // The next segment starts past where we are: records were lost (damaged segment tail,
          // or a segment deleted by hand).
          this.#gap(this.#offset, this.#offset, next - 1, `lsn gap: next segment starts at ${next}`)
        }
        if (!(await this.#open(next))) {
          this.#positioned = false
          await this.#position()
        }
        continue
      }
      await this.#decodeChunk(limit, Math.max(kDefaultChunk, maxBytes))
    }
  }

  /**
   * Decode the groups of the next chunk into #pending. A bad group ends the chunk: the good groups
   * before it stay pending (read() hands them out first), #offset stops at the bad group and the
   * damage is parked in #bad for read() to skip.
   */
  async #decodeChunk(limit: number, chunkBytes: number): Promise<void> {
    const want = Math.min(chunkBytes, limit - this.#offset)
    let buf = await readAt(this.#fd, this.#offset, want)
    let pos = 0
    let sliced = 0
    const records: unknown[] = []
    try {
      while (this.#offset + pos < limit) {
        if (this.#opts.sliceBytes !== undefined && sliced >= this.#opts.sliceBytes) {
          sliced = 0
          await new Promise((resolve) => setImmediate(resolve))
          if (this.#closed) break
        }
        let c = checkGroup(buf, pos, this.#offset)
        if (!c.ok && c.needBytes !== undefined) {
          if (pos > 0) break // finish this chunk first
          if (this.#offset + c.needBytes > limit) {
            throw new MI_ERR_LOG_CORRUPT(
              segmentName(this.#base),
              this.#offset,
              'group overruns the durable end',
            )
          }
          buf = await readAt(this.#fd, this.#offset, c.needBytes)
          c = checkGroup(buf, 0, this.#offset)
        }
        if (!c.ok) throw new MI_ERR_LOG_CORRUPT(segmentName(this.#base), this.#offset + pos, c.reason)
        const h = c.header
        // A group is all or nothing: its records join `records` only once all of it decoded.
        const last = h.baseLsn + h.count - 1
        if (this.#expect !== undefined && h.baseLsn !== this.#expect) {
          throw new MI_ERR_LOG_CORRUPT(
            segmentName(this.#base),
            this.#offset + pos,
            `lsn discontinuity: expected ${this.#expect}, group has ${h.baseLsn}`,
          )
        }
        if (h.names) this.#reader.catalog.learn(h.names.firstId, h.names.names)
        // Appended in place: a spread of one group's records (130k+ for pipelined BATCHes) overflowed the stack.
        if (last >= this.#nextLsn && this.#decoder)
          records.push(await this.#decodeGrouped(h, c.payload, c.restPos))
        else if (last >= this.#nextLsn)
          for (const rec of await this.#decodeGroup(h, c.payload, c.restPos)) records.push(rec)
        pos += h.totalBytes
        sliced += h.totalBytes
        this.#expect = last + 1
      }
    } catch (err) {
      const e = err as Error & { code?: string; args?: unknown[] }
      if (e.code !== 'MI_ERR_LOG_CORRUPT') this.#error = e
      else this.#bad = { offset: this.#offset + pos, reason: corruptReason(e) }
    }
    this.#offset += pos
    this.#pending = { records, i: 0 }
  }

  async #decodeGroup(h: GroupHeader, payload: Uint8Array, restPos: number): Promise<StoredRecord[]> {
    const cat = this.#reader.catalog
    const batches: DecodedBatch[] = []
    try {
      forEachBatch(h, groupBody(payload, restPos, h.flags), (b) => {
        batches.push(b)
        return true
      })
    } catch (err) {
      throw new MI_ERR_LOG_CORRUPT(
        segmentName(this.#base),
        h.offset,
        `bad group body: ${(err as Error).message}`,
      )
    }
    const records: StoredRecord[] = []
    for (const b of batches) {
      let lsn = b.firstLsn
      const module = await this.#name(cat, b.moduleId, h.offset)
      const core = b.coreId === 0 ? '' : await this.#name(cat, b.coreId, h.offset)
      for (const rec of b.records) {
        const l = lsn++
        if (l < this.#nextLsn) continue
        if (this.#streams && !(await this.#wanted(cat, rec.streamId, h.offset))) {
          // Filtered without copying the body; keep the lsn so nextLsn advances past it.
          records.push({ lsn: l, stream: '', module, core, seq: b.seq, ts: rec.ts, rts: b.rts, body: kEmpty })
          continue
        }
        records.push({
          lsn: l,
          stream: await this.#name(cat, rec.streamId, h.offset),
          module,
          core,
          seq: b.seq,
          ts: rec.ts,
          rts: b.rts,
          body: new Uint8Array(rec.body), // a copy: Buffer#slice would alias the read chunk
        })
      }
    }
    return records
  }

  async #decodeGrouped(h: GroupHeader, payload: Uint8Array, restPos: number): Promise<unknown> {
    const cat = this.#reader.catalog
    const corrupt = (err: unknown) =>
      new MI_ERR_LOG_CORRUPT(segmentName(this.#base), h.offset, `bad group body: ${(err as Error).message}`)
    let body: Uint8Array
    try {
      body = groupBody(payload, restPos, h.flags)
    } catch (err) {
      throw corrupt(err)
    }
    try {
      return await this.#decoder!.decode(h, body, this.#nextLsn, (id) => this.#name(cat, id, h.offset))
    } catch (err) {
      throw err instanceof RangeError ? corrupt(err) : err
    }
  }

  async #name(cat: CatalogView, id: number, offset: number): Promise<string> {
    let n = cat.name(id)
    if (n === undefined) {
      await cat.refresh()
      n = cat.name(id)
      if (n === undefined) {
        await cat.rebuild(this.#reader.dir)
        n = cat.name(id)
      }
      if (n === undefined)
        throw new MI_ERR_LOG_CORRUPT(segmentName(this.#base), offset, `unknown catalog id ${id}`)
    }
    return n
  }

  async #wanted(cat: CatalogView, id: number, offset: number): Promise<boolean> {
    let w = this.#streamIds.get(id)
    if (w === undefined) {
      w = this.#streams!.has(await this.#name(cat, id, offset))
      this.#streamIds.set(id, w)
    }
    return w
  }

  /** Resolves true once durable data exists past this cursor, false on timeout; rejects on abort. */
  async waitForData(options: WaitOptions = {}): Promise<boolean> {
    const r = this.#reader
    const has = (): boolean =>
      this.#error !== undefined || // read() has something to say: the error
      r.durableLsn() >= this.#nextLsn ||
      (this.#pending !== undefined && this.#pending.i < this.#pending.records.length)
    if (has()) return true
    const { signal, timeoutMs } = options
    signal?.throwIfAborted()
    return new Promise<boolean>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      let settled = false
      let off: (() => void) | undefined
      const done = (v: boolean | Error): void => {
        if (settled) return
        settled = true
        off?.()
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        if (v instanceof Error) reject(v)
        else resolve(v)
      }
      const onAbort = (): void =>
        done(signal!.reason instanceof Error ? signal!.reason : new Error('aborted'))
      off = r.onChange(() => {
        if (this.#closed) done(false)
        else if (has()) done(true)
      })
      if (settled) return off()
      if (timeoutMs !== undefined) timer = setTimeout(() => done(false), timeoutMs)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#fd >= 0) fs.closeSync(this.#fd)
    this.#fd = -1
    this.#reader.forget(this)
  }
}

const kEmpty = new Uint8Array(0)

/** The reason part of an MI_ERR_LOG_CORRUPT message ("… at offset N: <reason>"). */
function corruptReason(e: Error): string {
  const m = /is corrupt at offset \d+: (.*)$/s.exec(e.message)
  return m ? m[1]! : e.message
}

function peekBaseLsn(head: Buffer): number {
  // prefix(8) · flags(1) · varint baseLsn
  let result = 0
  let mul = 1
  for (let p = 9; p < Math.min(head.length, 18); p++) {
    const byte = head[p]!
    result += (byte & 0x7f) * mul
    if (byte < 0x80) return result
    mul *= 0x80
  }
  return -1
}
