// A cursor: where it is in the log (positioning by lsn or receive time through the sparse
// indexes), what read() hands out, and the damage it skips and accounts for (gaps). Bytes become
// records in chunk-decoder.ts; waiting for more is follow.ts; the segment directory and the
// watermark are the reader's (reader.ts).
import fs from 'node:fs'
import path from 'node:path'
import { ChunkDecoder, type GroupDecoder, type ReadBudget } from './chunk-decoder.ts'
import { MI_ERR_LOG_CLOSED } from './errors.ts'
import { type WaitOptions, waitUntil } from './follow.ts'
import { checkGroup, kSegmentHeaderBytes, segmentName } from './format.ts'
import type { LogGap } from './gap.ts'
import type { Watermark } from './meta.ts'
import type { Reader, StoredRecord } from './reader.ts'
import { findNextGroup, peekGroupBaseLsn, readAt } from './scan.ts'
import { floorByLsn, floorByRts } from './sparse-index.ts'

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

export interface ReadOptions {
  maxRecords?: number
  maxBytes?: number
}

const kDefaultChunk = 256 * 1024

interface Pending {
  /** StoredRecords, or the decoder's groups for a grouped cursor. */
  records: unknown[]
  i: number
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
  #streams: Set<string> | undefined
  #decoder: GroupDecoder | undefined
  #chunks: ChunkDecoder

  constructor(reader: Reader, opts: CursorOptions, decoder?: GroupDecoder) {
    this.#reader = reader
    this.#opts = opts
    this.#decoder = decoder
    this.#nextLsn = Math.max(1, Math.floor(opts.fromLsn ?? 1))
    this.#minRts = opts.fromTimeUs
    this.#streams = opts.streams ? new Set(opts.streams) : undefined
    this.#chunks = new ChunkDecoder(reader.catalog, reader.dir, {
      streams: this.#streams,
      decoder,
      sliceBytes: opts.sliceBytes,
    })
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
          ok =
            (c.ok || c.needBytes !== undefined) && head.length >= 16 && peekGroupBaseLsn(head) === entry.lsn
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
      const records = toLsn - fromLsn + 1
      const g: LogGap = {
        segment: segmentName(this.#base),
        offset,
        resumeOffset,
        fromLsn,
        toLsn,
        records,
        reason,
      }
      this.#skipped += records
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
      this.#gap(bad.offset, next, peekGroupBaseLsn(head) - 1, bad.reason)
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
    const chunk = await this.#chunks.decode({
      fd: this.#fd,
      base: this.#base,
      offset: this.#offset,
      limit,
      chunkBytes,
      expect: this.#expect,
      fromLsn: this.#nextLsn,
      closed: () => this.#closed,
    })
    this.#expect = chunk.expect
    if (chunk.error) this.#error = chunk.error
    if (chunk.bad) this.#bad = chunk.bad
    this.#offset += chunk.bytes
    this.#pending = { records: chunk.items, i: 0 }
  }

  /** Resolves true once durable data exists past this cursor, false on timeout; rejects on abort. */
  waitForData(options: WaitOptions = {}): Promise<boolean> {
    const r = this.#reader
    const has = (): boolean =>
      this.#error !== undefined || // read() has something to say: the error
      r.durableLsn() >= this.#nextLsn ||
      (this.#pending !== undefined && this.#pending.i < this.#pending.records.length)
    return waitUntil(
      has,
      () => this.#closed,
      (cb) => r.onChange(cb),
      options,
    )
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#fd >= 0) fs.closeSync(this.#fd)
    this.#fd = -1
    this.#reader.forget(this)
  }
}
