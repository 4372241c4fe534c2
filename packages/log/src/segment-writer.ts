// The writer's segments: the active one (fd, write and durable offsets, live sparse index), the
// list of sealed ones (sizes and time bounds, for retention and stats), and the roll that seals
// the active segment and opens the next.
import path from 'node:path'
import type { WriterCtx } from './api.ts'
import { writeSegmentIds } from './catalog-compact.ts'
import { encodeSegmentHeader, indexName, kSegmentHeaderBytes, segmentName } from './format.ts'
import { fs } from './fsio.ts'
import { fsyncDir, writeFileAtomic } from './meta.ts'
import type { Recovered } from './recovery.ts'
import { buildIndexByScan, emptySeed } from './segments.ts'
import {
  encodeEntry,
  encodeSealedIndex,
  type IndexEntry,
  kIndexEntryBytes,
  kIndexMagic,
  loadIndex,
} from './sparse-index.ts'

export interface SealedSeg {
  base: number
  sizeBytes: number
  maxRts: number // -1 unknown
  firstTs: number // -1 unknown
}

export class SegmentWriter {
  base: number
  fd: number
  /** Where the next group goes (groups being written are before it). */
  writeOffset: number
  /** End of the last durable group: the watermark, checkpoints and retry cut here. */
  durableOffset: number
  maxRts: number
  firstTs: number
  readonly sealed: SealedSeg[] = []
  /** Catalog ids used by the groups written to the active segment from offset `usedFrom` on. */
  used = new Set<number>()
  usedFrom: number
  #ctx: WriterCtx
  #entries: IndexEntry[]
  #lastIndexed: number
  #idxFd = -1

  constructor(ctx: WriterCtx, rec: Recovered) {
    this.#ctx = ctx
    this.base = rec.activeBase
    this.fd = rec.activeFd
    this.writeOffset = rec.activeSize
    this.durableOffset = rec.activeSize
    this.usedFrom = rec.activeSize
    this.#entries = rec.activeEntries
    this.#lastIndexed = rec.activeLastIndexed
    this.maxRts = rec.activeMaxRts
    this.firstTs = rec.activeFirstTs
    for (const b of rec.bases)
      if (b !== rec.activeBase) this.sealed.push({ base: b, sizeBytes: 0, maxRts: -1, firstTs: -1 })
  }

  async init(): Promise<void> {
    const dir = this.#ctx.dir
    // The live index of the active segment is rewritten from what recovery kept.
    const idxPath = path.join(dir, indexName(this.base))
    const live = Buffer.concat([kIndexMagic, ...this.#entries.map(encodeEntry)])
    await writeFileAtomic(idxPath, live, false, this.#ctx.opts.fileMode)
    this.#idxFd = fs.openSync(idxPath, 'r+')
    for (const s of this.sealed) {
      s.sizeBytes = (await fs.promises.stat(path.join(dir, segmentName(s.base)))).size
      const idx = await loadIndex(path.join(dir, indexName(s.base)))
      if (idx?.sealed) {
        s.maxRts = idx.sealed.maxRts
        s.firstTs = idx.sealed.firstTs
      }
    }
  }

  get atStart(): boolean {
    return this.writeOffset === kSegmentHeaderBytes
  }

  /** A group of `total` bytes does not fit here (a group alone in its segment always does). */
  full(total: number): boolean {
    return (
      this.writeOffset > kSegmentHeaderBytes && this.writeOffset + total > this.#ctx.opts.segmentSizeBytes
    )
  }

  /** A group using these catalog ids goes to the active segment. */
  usedIds(ids: number[]): void {
    for (let i = 0; i < ids.length; i++) this.used.add(ids[i]!)
  }

  /** The group [offset, endOffset) with these rts/ts bounds is durable. */
  committed(offset: number, endOffset: number, baseLsn: number, maxRts: number, firstTs: number): void {
    this.durableOffset = endOffset
    if (offset >= this.#lastIndexed + this.#ctx.opts.indexIntervalBytes) {
      const e = { lsn: baseLsn, offset, rtsMaxBefore: this.maxRts }
      this.#entries.push(e)
      this.#lastIndexed = offset
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
    if (maxRts > this.maxRts) this.maxRts = maxRts
    if (this.firstTs < 0) this.firstTs = firstTs
  }

  /**
   * Seal the active segment and start `newBase`. The caller waits for running fdatasyncs first.
   * False when the writer failed or closed meanwhile (nothing changed then).
   */
  async roll(newBase: number): Promise<boolean> {
    const { dir, life, flush, opts } = this.#ctx
    const io = this.#ctx.io
    const epoch = life.epoch
    const oldBase = this.base
    const oldFd = this.fd
    await flush.settle(io, [oldFd])
    if (epoch !== life.epoch) return false
    const file = path.join(dir, segmentName(newBase))
    let fd: number
    try {
      fd = fs.openSync(file, 'wx+', opts.fileMode)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      // Left over by a failed roll: it holds no durable data.
      fd = fs.openSync(file, 'r+')
      await io.ftruncate(fd, 0)
    }
    try {
      await io.writev(fd, [encodeSegmentHeader(newBase)], 0)
      await io.fdatasync(fd)
      await fsyncDir(dir)
    } catch (err) {
      fs.closeSync(fd)
      throw err
    }
    if (epoch !== life.epoch) {
      // Closed or failed meanwhile: our old fd numbers may already belong to someone else.
      fs.closeSync(fd)
      return false
    }
    const summary = {
      lastLsn: newBase - 1,
      endOffset: this.writeOffset,
      maxRts: this.maxRts,
      firstTs: this.firstTs,
    }
    try {
      await writeFileAtomic(
        path.join(dir, indexName(oldBase)),
        encodeSealedIndex(this.#entries, summary),
        false,
      )
      // Which catalog ids it uses (catalog-compact.ts); not known whole if part of it was written
      // before this process opened it: compaction scans it then.
      if (this.usedFrom === kSegmentHeaderBytes) await writeSegmentIds(dir, oldBase, this.used, opts.fileMode)
    } catch {
      // Rebuilt on next open or in memory by readers; the ids by compaction's scan.
    }
    if (epoch !== life.epoch) {
      fs.closeSync(fd)
      return false
    }
    this.sealed.push({
      base: oldBase,
      sizeBytes: this.writeOffset,
      maxRts: summary.maxRts,
      firstTs: summary.firstTs,
    })
    fs.closeSync(oldFd)
    if (this.#idxFd >= 0) fs.closeSync(this.#idxFd)
    const idxPath = path.join(dir, indexName(newBase))
    fs.writeFileSync(idxPath, kIndexMagic, { mode: opts.fileMode })
    this.#idxFd = fs.openSync(idxPath, 'r+')
    this.base = newBase
    this.fd = fd
    this.writeOffset = kSegmentHeaderBytes
    this.durableOffset = kSegmentHeaderBytes
    this.#entries = []
    this.used = new Set()
    this.usedFrom = kSegmentHeaderBytes
    this.#lastIndexed = -Infinity
    this.maxRts = -1
    this.firstTs = -1
    return true
  }

  /** Retry probe: cut what was written but never durable, then prove a write + fdatasync work. */
  async probe(): Promise<void> {
    const io = this.#ctx.io
    await io.ftruncate(this.fd, this.durableOffset)
    await io.writev(this.fd, [Buffer.alloc(64 * 1024)], this.durableOffset)
    await io.fdatasync(this.fd)
    await io.ftruncate(this.fd, this.durableOffset)
    await io.fdatasync(this.fd)
  }

  /** Sealed segments without a valid index get one in the background (readers rebuild in memory meanwhile). */
  async rebuildMissingIndexes(): Promise<void> {
    const { dir, opts, life } = this.#ctx
    for (const s of [...this.sealed]) {
      if (life.state === 'closed') return
      if (s.maxRts >= 0) continue
      const idxPath = path.join(dir, indexName(s.base))
      const idx = await loadIndex(idxPath)
      if (idx?.sealed) continue
      let fd: number
      try {
        fd = fs.openSync(path.join(dir, segmentName(s.base)), 'r')
      } catch {
        continue // deleted by retention meanwhile
      }
      try {
        const size = fs.fstatSync(fd).size
        const b = await buildIndexByScan(fd, size, opts.indexIntervalBytes, emptySeed())
        if (b.stop.reason) continue // corrupt: readers report it; recovery or verify quarantines it
        s.maxRts = b.summary.maxRts
        s.firstTs = b.summary.firstTs
        await writeFileAtomic(idxPath, encodeSealedIndex(b.entries, b.summary), false, opts.fileMode)
      } catch {
        // best effort
      } finally {
        fs.closeSync(fd)
      }
    }
  }

  get bytesOnDisk(): number {
    let bytes = this.writeOffset
    for (const s of this.sealed) bytes += s.sizeBytes
    return bytes
  }

  get oldestTs(): number {
    return this.sealed.length > 0 ? this.sealed[0]!.firstTs : this.firstTs
  }

  /** The fds to close at shutdown. */
  get fds(): number[] {
    return [this.fd, this.#idxFd]
  }
}
