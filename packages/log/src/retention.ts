// Retention: delete sealed segments, oldest first, by the age of their newest record (maxAgeMs)
// and the log's total size (maxBytes); never one a protected consumer group has not consumed,
// unless its newest record is older than forceDeleteAfterMs. The active segment is never deleted.
import path from 'node:path'
import type { WriterCtx } from './api.ts'
import { idsName } from './catalog-compact.ts'
import { indexName, segmentName } from './format.ts'
import { afs } from './fsio.ts'
import { fsyncDir, listGroups } from './meta.ts'
import type { SegmentWriter } from './segment-writer.ts'
import { loadIndex } from './sparse-index.ts'

export class Retention {
  #ctx: WriterCtx
  #seg: SegmentWriter
  #running: Promise<void> | undefined
  #timer: NodeJS.Timeout | undefined

  #afterDelete: () => Promise<unknown>

  constructor(ctx: WriterCtx, seg: SegmentWriter, afterDelete: () => Promise<unknown>) {
    this.#ctx = ctx
    this.#seg = seg
    this.#afterDelete = afterDelete
  }

  get #enabled(): boolean {
    const r = this.#ctx.opts.retention
    return r.maxAgeMs !== undefined || r.maxBytes !== undefined
  }

  start(): void {
    if (!this.#enabled) return
    this.#timer = setInterval(() => void this.run(), this.#ctx.opts.retention.checkIntervalMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  /** One pass, unless one is running (then that one). */
  run(): Promise<void> {
    if (!this.#running && this.#ctx.life.state !== 'closed') {
      // Best effort: a failed pass (e.g. EIO on unlink) is retried on the next timer tick.
      this.#running = this.#pass()
        .catch(() => {})
        .finally(() => {
          this.#running = undefined
        })
    }
    return this.#running ?? Promise.resolve()
  }

  idle(): Promise<void> {
    return this.#running ?? Promise.resolve()
  }

  async #pass(): Promise<void> {
    const { dir, opts, life } = this.#ctx
    const r = opts.retention
    if (!this.#enabled || life.state === 'closed') return
    const seg = this.#seg
    const groups = new Map((await listGroups(dir)).map((g) => [g.name, g.nextLsn]))
    const nowUs = Date.now() * 1000
    let total = seg.bytesOnDisk
    let deleted = 0
    while (seg.sealed.length > 0) {
      const s = seg.sealed[0]!
      const next = seg.sealed[1]?.base ?? seg.base
      const lastLsn = next - 1
      if (s.maxRts < 0) {
        const idx = await loadIndex(path.join(dir, indexName(s.base)))
        if (idx?.sealed) s.maxRts = idx.sealed.maxRts
      }
      const ageMs = s.maxRts >= 0 ? (nowUs - s.maxRts) / 1000 : 0
      const byAge = r.maxAgeMs !== undefined && ageMs > r.maxAgeMs
      const bySize = r.maxBytes !== undefined && total > r.maxBytes
      if (!byAge && !bySize) break
      const unconsumed = r.protectGroups.some((name) => (groups.get(name) ?? 1) <= lastLsn)
      const forced = r.forceDeleteAfterMs !== undefined && ageMs > r.forceDeleteAfterMs
      if (unconsumed && !forced) break
      await afs.rm(path.join(dir, segmentName(s.base)), { force: true })
      await afs.rm(path.join(dir, indexName(s.base)), { force: true })
      await afs.rm(path.join(dir, idsName(s.base)), { force: true })
      total -= s.sizeBytes
      seg.sealed.shift()
      deleted++
    }
    if (deleted > 0) {
      await fsyncDir(dir)
      // Names only the deleted segments used can leave the catalog now.
      await this.#afterDelete()
    }
  }
}
