// A cursor's bytes → records: CRC-checks the groups of one chunk of a segment and decodes them,
// into StoredRecords or, for a grouped cursor (group-cursor.ts), into its decoder's items. Holds
// what decoding needs across chunks (the catalog and the cursor's stream filter); where the cursor
// is, and what to do about damage, stay with the cursor (cursor.ts).
import type { CatalogView } from './catalog.ts'
import { MI_ERR_LOG_CORRUPT } from './errors.ts'
import {
  checkGroup,
  type DecodedBatch,
  forEachBatch,
  type GroupHeader,
  groupBody,
  segmentName,
} from './format.ts'
import type { StoredRecord } from './reader.ts'
import { readAt } from './scan.ts'

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

/** Where a chunk starts and what the cursor expects there. */
export interface ChunkAt {
  fd: number
  base: number
  offset: number
  /** The durable end (or the sealed segment's end): no group may run past it. */
  limit: number
  chunkBytes: number
  /** baseLsn the first group must have (undefined right after positioning). */
  expect: number | undefined
  /** Records before it are not handed out (a group straddling it is decoded from it on). */
  fromLsn: number
  /** Checked between slices: a cursor closed meanwhile stops decoding. */
  closed: () => boolean
}

/**
 * One chunk's outcome. A bad group ends the chunk: the good groups before it are in `items`,
 * `bytes` stops at the bad group and the damage is in `bad` for the cursor to skip. `error` is an
 * I/O error (not damage), which the cursor reports on a read() of its own.
 */
export interface Chunk {
  items: unknown[]
  bytes: number
  expect: number | undefined
  bad?: { offset: number; reason: string }
  error?: Error
}

export class ChunkDecoder {
  readonly #catalog: CatalogView
  readonly #dir: string
  readonly #decoder: GroupDecoder | undefined
  readonly #streams: Set<string> | undefined
  readonly #sliceBytes: number | undefined
  #streamIds = new Map<number, boolean>()

  /**
   * `streams`: the record cursor's filter (a filtered-out record keeps its lsn, without its body);
   * `decoder`: a grouped cursor's (its items are whole groups); `sliceBytes`: CursorOptions'.
   */
  constructor(
    catalog: CatalogView,
    dir: string,
    opts: {
      streams: Set<string> | undefined
      decoder: GroupDecoder | undefined
      sliceBytes: number | undefined
    },
  ) {
    this.#catalog = catalog
    this.#dir = dir
    this.#streams = opts.streams
    this.#decoder = opts.decoder
    this.#sliceBytes = opts.sliceBytes
  }

  async decode(at: ChunkAt): Promise<Chunk> {
    const { fd, base, offset, limit } = at
    const want = Math.min(at.chunkBytes, limit - offset)
    let buf = await readAt(fd, offset, want)
    let pos = 0
    let sliced = 0
    let expect = at.expect
    const items: unknown[] = []
    try {
      while (offset + pos < limit) {
        if (this.#sliceBytes !== undefined && sliced >= this.#sliceBytes) {
          sliced = 0
          await new Promise((resolve) => setImmediate(resolve))
          if (at.closed()) break
        }
        let c = checkGroup(buf, pos, offset)
        if (!c.ok && c.needBytes !== undefined) {
          if (pos > 0) break // finish this chunk first
          if (offset + c.needBytes > limit) {
            throw new MI_ERR_LOG_CORRUPT(segmentName(base), offset, 'group overruns the durable end')
          }
          buf = await readAt(fd, offset, c.needBytes)
          c = checkGroup(buf, 0, offset)
        }
        if (!c.ok) throw new MI_ERR_LOG_CORRUPT(segmentName(base), offset + pos, c.reason)
        const h = c.header
        // A group is all or nothing: its records join `items` only once all of it decoded.
        const last = h.baseLsn + h.count - 1
        if (expect !== undefined && h.baseLsn !== expect) {
          throw new MI_ERR_LOG_CORRUPT(
            segmentName(base),
            offset + pos,
            `lsn discontinuity: expected ${expect}, group has ${h.baseLsn}`,
          )
        }
        if (h.names) this.#catalog.learn(h.names.firstId, h.names.names)
        // Appended in place: a spread of one group's records (130k+ for pipelined BATCHes) overflowed the stack.
        if (last >= at.fromLsn) {
          const body = bodyOf(base, h, c.payload, c.restPos)
          if (this.#decoder) items.push(await this.#decodeGrouped(base, h, body, at.fromLsn))
          else for (const rec of await this.#decodeRecords(base, h, body, at.fromLsn)) items.push(rec)
        }
        pos += h.totalBytes
        sliced += h.totalBytes
        expect = last + 1
      }
    } catch (err) {
      const e = err as Error & { code?: string }
      if (e.code !== 'MI_ERR_LOG_CORRUPT') return { items, bytes: pos, expect, error: e }
      return { items, bytes: pos, expect, bad: { offset: offset + pos, reason: corruptReason(e) } }
    }
    return { items, bytes: pos, expect }
  }

  async #decodeRecords(
    base: number,
    h: GroupHeader,
    body: Uint8Array,
    fromLsn: number,
  ): Promise<StoredRecord[]> {
    const batches: DecodedBatch[] = []
    try {
      forEachBatch(h, body, (b) => {
        batches.push(b)
        return true
      })
    } catch (err) {
      throw badBody(base, h, err)
    }
    const records: StoredRecord[] = []
    for (const b of batches) {
      let lsn = b.firstLsn
      const module = await this.#name(base, b.moduleId, h.offset)
      const core = b.coreId === 0 ? '' : await this.#name(base, b.coreId, h.offset)
      for (const rec of b.records) {
        const l = lsn++
        if (l < fromLsn) continue
        if (this.#streams && !(await this.#wanted(base, rec.streamId, h.offset))) {
          // Filtered without copying the body; keep the lsn so nextLsn advances past it.
          records.push({ lsn: l, stream: '', module, core, seq: b.seq, ts: rec.ts, rts: b.rts, body: kEmpty })
          continue
        }
        records.push({
          lsn: l,
          stream: await this.#name(base, rec.streamId, h.offset),
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

  async #decodeGrouped(base: number, h: GroupHeader, body: Uint8Array, fromLsn: number): Promise<unknown> {
    try {
      return await this.#decoder!.decode(h, body, fromLsn, (id) => this.#name(base, id, h.offset))
    } catch (err) {
      throw err instanceof RangeError ? badBody(base, h, err) : err
    }
  }

  /** A catalog id's name: re-read the catalog file for an id it lacks, then rebuild it from the segments. */
  async #name(base: number, id: number, offset: number): Promise<string> {
    const cat = this.#catalog
    let n = cat.name(id)
    if (n === undefined) {
      await cat.refresh()
      n = cat.name(id)
      if (n === undefined) {
        await cat.rebuild(this.#dir)
        n = cat.name(id)
      }
      if (n === undefined) throw new MI_ERR_LOG_CORRUPT(segmentName(base), offset, `unknown catalog id ${id}`)
    }
    return n
  }

  async #wanted(base: number, id: number, offset: number): Promise<boolean> {
    let w = this.#streamIds.get(id)
    if (w === undefined) {
      w = this.#streams!.has(await this.#name(base, id, offset))
      this.#streamIds.set(id, w)
    }
    return w
  }
}

const kEmpty = new Uint8Array(0)

/** The group's batch bytes (decompressed when zstd); a body that will not come out is damage. */
function bodyOf(base: number, h: GroupHeader, payload: Uint8Array, restPos: number): Uint8Array {
  try {
    return groupBody(payload, restPos, h.flags)
  } catch (err) {
    throw badBody(base, h, err)
  }
}

/** A malformed group body is damage like a bad CRC: MI_ERR_LOG_CORRUPT at the group, skipped with a gap. */
function badBody(base: number, h: GroupHeader, err: unknown): Error {
  return new MI_ERR_LOG_CORRUPT(segmentName(base), h.offset, `bad group body: ${(err as Error).message}`)
}

/** The reason part of an MI_ERR_LOG_CORRUPT message ("… at offset N: <reason>"). */
function corruptReason(e: Error): string {
  const m = /is corrupt at offset \d+: (.*)$/s.exec(e.message)
  return m ? m[1]! : e.message
}
