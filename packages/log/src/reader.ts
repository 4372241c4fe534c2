// Readers: any thread or process, never a lock the writer could wait on. They read segment files
// with their own fds, bounded by the durable watermark the writer publishes (see index.ts, which
// also lists the reader's files).
import fs from 'node:fs'
import path from 'node:path'
import type { SubscriberRecord } from '@module-ingest/subscriber-sdk/record'
import { CatalogView, kCatalogFile } from './catalog.ts'
import type { GroupDecoder } from './chunk-decoder.ts'
import { Cursor, type CursorOptions } from './cursor.ts'
import { MI_ERR_LOG_CLOSED } from './errors.ts'
import { DurableWatch } from './follow.ts'
import { indexName, segmentName } from './format.ts'
import type { LogGap } from './gap.ts'
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
import { buildIndexByScan, emptySeed, listSegmentBases } from './segments.ts'
import { type IndexEntry, loadIndex, type SegmentSummary } from './sparse-index.ts'

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

function warnGap(g: LogGap): void {
  process.emitWarning(
    `log segment ${g.segment} is damaged at offset ${g.offset} (${g.reason}): skipped lsns ${g.fromLsn}..${g.toLsn} ` +
      `(${g.records} records), resumed at offset ${g.resumeOffset}. Run \`module-ingest-recover-dump verify\``,
    { type: 'MiLogGap' },
  )
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

export async function openReader(dir: string, options: ReaderOptions = {}): Promise<Reader> {
  const r = new Reader(path.resolve(dir), options)
  await r.refresh()
  return r
}

export class Reader {
  readonly dir: string
  readonly groups: Groups
  readonly catalog: CatalogView
  #wmFd = -1
  #wmBuf = Buffer.alloc(kWatermarkBytes)
  #last: Watermark = { durableLsn: 0, segBase: 0, endOffset: 0, epoch: 0 }
  #bases: number[] = []
  #indexes = new Map<number, SegIndex>()
  #quarantine: QuarantineEntry[] = []
  #closed = false
  #watch: DurableWatch
  #commitChains = new Map<string, Promise<void>>()
  #cursors = new Set<Cursor>()
  /** @internal */
  readonly onGap: (gap: LogGap) => void

  constructor(dir: string, opts: ReaderOptions) {
    this.onGap = opts.onGap ?? warnGap
    this.dir = dir
    this.#watch = new DurableWatch(path.join(dir, kWatermarkFile), opts)
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

  /** @internal: calls `cb` on each watermark change event (or poll tick) until unsubscribed. */
  onChange(cb: () => void): () => void {
    return this.#watch.onChange(cb)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    for (const c of this.#cursors) c.close()
    await Promise.allSettled([...this.#commitChains.values()])
    this.#watch.notify()
    this.#watch.stop()
    this.#closed = true
    if (this.#wmFd >= 0) fs.closeSync(this.#wmFd)
  }

  /** @internal */
  forget(c: Cursor): void {
    this.#cursors.delete(c)
  }
}
