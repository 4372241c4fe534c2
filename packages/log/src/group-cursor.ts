// A cursor that hands out whole committed groups instead of one record object per record. The
// positioning, CRC checks, gap skipping and watermark handling are the record cursor's own
// (cursor.ts, chunk-decoder.ts); only the per-group decode differs: one pass over the group's
// (decompressed) batch bytes into typed columns, record bodies left in place as offsets. Consumers that move records on
// in bulk (the subscriber runtime's columnar batches) copy byte ranges instead of allocating a
// record object, a body copy and a body view per record on their thread.

import type { GroupDecoder, ReadBudget } from './chunk-decoder.ts'
import type { Cursor, CursorOptions, ReadOptions } from './cursor.ts'
import type { WaitOptions } from './follow.ts'
import { Reader as Bytes, type GroupHeader, kFlagBatchNames, kFlagTs64 } from './format.ts'
import type { Reader, StoredRecord } from './reader.ts'

/** One append inside a group: module, core, seq and receive time are per append. */
export interface GroupBatch {
  module: string
  core: string
  seq: bigint
  rts: number
}

/**
 * The records of one committed group, `first`..`count - 1` of them handed out (records before
 * `first` precede the cursor's position). Record i has lsn `baseLsn + i`; its body is
 * `body.subarray(bodyStart[i], bodyEnd[i])`.
 */
export interface CommittedGroup {
  readonly baseLsn: number
  readonly count: number
  readonly first: number
  /** The group's batch bytes (decompressed): record bodies live here. */
  readonly body: Uint8Array
  /** Per record: index into `streams`. */
  readonly stream: Uint32Array
  /** Distinct stream names of this group. */
  readonly streams: readonly string[]
  /** Per record: index into `batches`. */
  readonly batch: Uint32Array
  readonly batches: readonly GroupBatch[]
  /** Per record: ts, NaN where it is above 2^53-1 (then it is in `bigTs`). */
  readonly ts: Float64Array
  /** Record index → ts, for the ts above 2^53-1 (kFlagTs64 groups only; undefined otherwise). */
  readonly bigTs: ReadonlyMap<number, bigint> | undefined
  readonly bodyStart: Uint32Array
  readonly bodyEnd: Uint32Array
  /**
   * Set when no record of the group is of a stream the cursor's `wants` accepts: the group was not
   * decoded, its columns are empty and only baseLsn, count and first mean anything. `maxRts` is
   * the newest receive time among its appends.
   */
  readonly filtered?: { readonly maxRts: number }
}

export interface GroupCursorOptions extends Omit<CursorOptions, 'streams'> {
  /**
   * The streams the caller wants (e.g. a subscriber's compiled stream filter). A group whose
   * appends' name tables hold none of them is handed out as `filtered` without a per-record
   * decode (derived records a subscriber does not read, for one). Groups with a wanted stream are
   * decoded whole, as without it: callers still filter on `streams`.
   */
  wants?: (stream: string) => boolean
}

/** Record i of `g` as a StoredRecord (a copied body): for the rare paths that need objects. */
export function groupRecord(g: CommittedGroup, i: number): StoredRecord {
  const b = g.batches[g.batch[i]!]!
  return {
    lsn: g.baseLsn + i,
    stream: g.streams[g.stream[i]!]!,
    module: b.module,
    core: b.core,
    seq: b.seq,
    ts: groupTs(g, i),
    rts: b.rts,
    body: new Uint8Array(g.body.subarray(g.bodyStart[i], g.bodyEnd[i])), // a copy: never aliases a read chunk
  }
}

/** Record i's ts: a number, or a bigint above 2^53-1. */
export function groupTs(g: CommittedGroup, i: number): number | bigint {
  const ts = g.ts[i]!
  return Number.isNaN(ts) ? g.bigTs!.get(i)! : ts
}

/**
 * Reads committed groups. `read()` returns groups until `maxRecords` records (counted from each
 * group's `first`) or `maxBytes` of group bytes are reached; always at least one group when data
 * is durable, so one group may exceed both. No stream filter: callers filter on `streams`.
 */
export class GroupCursor {
  readonly #cursor: Cursor

  constructor(reader: Reader, options: GroupCursorOptions = {}) {
    const { wants, ...rest } = options
    this.#cursor = reader.groupedCursor({ ...rest, streams: undefined }, groupDecoder(wants))
  }

  /** Next lsn this cursor will consider (records before it were returned or skipped). */
  get nextLsn(): number {
    return this.#cursor.nextLsn
  }
  get gaps() {
    return this.#cursor.gaps
  }
  get skippedRecords(): number {
    return this.#cursor.skippedRecords
  }
  async read(options: ReadOptions = {}): Promise<CommittedGroup[]> {
    return (await this.#cursor.readItems(options)) as CommittedGroup[]
  }
  waitForData(options: WaitOptions = {}): Promise<boolean> {
    return this.#cursor.waitForData(options)
  }
  close(): void {
    this.#cursor.close()
  }
}

/**
 * A record's ts from its zigzag delta against its batch's receive time: the one place this file
 * decodes a ts. In a kFlagTs64 group every delta is read exactly; a ts above 2^53-1 goes to `big`
 * and its column slot is NaN.
 */
function decodeTs(r: Bytes, rts: number, exact: boolean, i: number, big: Map<number, bigint>): number {
  if (!exact) return rts + r.zigzag()
  const ts = r.tsExact(rts)
  if (typeof ts === 'number') return ts
  big.set(i, ts)
  return Number.NaN
}

interface RawBatch {
  moduleId: number
  coreId: number
  seq: bigint
  rts: number
}

/**
 * One pass over a group's batches into columns; the same layout and checks as format.ts
 * forEachBatch (RangeError on anything malformed), without an object per record. Synchronous (a
 * tight loop); catalog names are looked up afterwards, once per distinct id.
 */
function scanColumns(h: GroupHeader, body: Uint8Array, fromLsn: number) {
  const n = h.count
  const stream = new Uint32Array(n) // index into streamIds
  const batch = new Uint32Array(n)
  const ts = new Float64Array(n)
  const bodyStart = new Uint32Array(n)
  const bodyEnd = new Uint32Array(n)
  const raw: RawBatch[] = []
  const streamIds: number[] = []
  const streamIdx = new Map<number, number>()
  const r = new Bytes(body)
  const tables = (h.flags & kFlagBatchNames) !== 0
  const exact = (h.flags & kFlagTs64) !== 0
  const bigTs = new Map<number, bigint>()
  let table: number[] = []
  let lastId = -1
  let lastIdx = 0
  let i = 0
  while (i < n) {
    const moduleId = r.varint()
    const coreId = r.varint()
    const seq = r.u64()
    const rts = h.baseRts + r.zigzag()
    const k = r.varint()
    if (k < 1 || i + k > n) throw new RangeError('batch overruns group')
    if (tables) {
      const t = r.varint()
      if (t < 1 || t > k) throw new RangeError('bad batch name table')
      table = new Array(t)
      for (let j = 0; j < t; j++) table[j] = r.varint()
    }
    const bi = raw.length
    raw.push({ moduleId, coreId, seq, rts })
    for (const end = i + k; i < end; i++) {
      let id = r.varint()
      if (tables) {
        const t = table[id]
        if (t === undefined) throw new RangeError('stream index outside the batch name table')
        id = t
      }
      if (id !== lastId) {
        let s = streamIdx.get(id)
        if (s === undefined) {
          s = streamIds.length
          streamIds.push(id)
          streamIdx.set(id, s)
        }
        lastId = id
        lastIdx = s
      }
      stream[i] = lastIdx
      batch[i] = bi
      ts[i] = decodeTs(r, rts, exact, i, bigTs)
      const len = r.varint()
      bodyStart[i] = r.pos
      r.skip(len)
      bodyEnd[i] = r.pos
    }
  }
  if (r.pos !== r.end) throw new RangeError('trailing bytes in group')
  const first = Math.max(0, fromLsn - h.baseLsn)
  return {
    baseLsn: h.baseLsn,
    count: n,
    first,
    body,
    stream,
    batch,
    ts,
    bigTs: exact ? bigTs : undefined,
    bodyStart,
    bodyEnd,
    raw,
    streamIds,
  }
}

/**
 * Walks only the group's append headers and name tables (records are stepped over, the last
 * append's not even that): the newest receive time when no table holds a wanted stream id,
 * undefined when one does (or the group has no tables), or an id `known` has no answer for yet.
 * A group it passes over is not checked record by record (its CRC was).
 */
function scanUnwanted(
  h: GroupHeader,
  body: Uint8Array,
  known: Map<number, boolean>,
): { maxRts: number } | { id: number } | undefined {
  if ((h.flags & kFlagBatchNames) === 0) return undefined
  const r = new Bytes(body)
  const exact = (h.flags & kFlagTs64) !== 0
  let maxRts = Number.NEGATIVE_INFINITY
  for (let i = 0; i < h.count; ) {
    r.varint() // module
    r.varint() // core
    r.u64() // seq
    const rts = h.baseRts + r.zigzag()
    const k = r.varint()
    if (k < 1 || i + k > h.count) throw new RangeError('batch overruns group')
    const t = r.varint()
    if (t < 1 || t > k) throw new RangeError('bad batch name table')
    for (let j = 0; j < t; j++) {
      const id = r.varint()
      const w = known.get(id)
      if (w === undefined) return { id }
      if (w) return undefined
    }
    if (rts > maxRts) maxRts = rts
    i += k
    if (i === h.count) break
    for (let j = 0; j < k; j++) {
      r.varint() // stream index
      if (exact) r.u64()
      else r.varint() // zigzag ts delta
      r.skip(r.varint())
    }
  }
  return { maxRts }
}

const kNoBytes = new Uint8Array(0)
const kNoU32 = new Uint32Array(0)
const kNoF64 = new Float64Array(0)

/** The cursor's decoder; with `wants`, groups of unwanted streams only are handed out `filtered`. */
function groupDecoder(wants: ((stream: string) => boolean) | undefined): GroupDecoder {
  if (wants === undefined) return kGroupDecoder
  // Catalog ids never change their name: one answer per id for the cursor's life.
  const known = new Map<number, boolean>()
  return {
    async decode(h, body, fromLsn, name) {
      for (;;) {
        const s = scanUnwanted(h, body, known)
        if (s === undefined) break
        if ('id' in s) {
          known.set(s.id, wants(await name(s.id)))
          continue
        }
        const filtered: CommittedGroup = {
          baseLsn: h.baseLsn,
          count: h.count,
          first: Math.max(0, fromLsn - h.baseLsn),
          body: kNoBytes,
          stream: kNoU32,
          streams: [],
          batch: kNoU32,
          batches: [],
          ts: kNoF64,
          bigTs: undefined,
          bodyStart: kNoU32,
          bodyEnd: kNoU32,
          filtered: { maxRts: s.maxRts },
        }
        return filtered
      }
      return decodeColumns(h, body, fromLsn, name)
    },
    take: kGroupDecoder.take,
  }
}

async function decodeColumns(
  h: GroupHeader,
  body: Uint8Array,
  fromLsn: number,
  name: (id: number) => Promise<string>,
): Promise<CommittedGroup> {
  const { raw, streamIds, ...columns } = scanColumns(h, body, fromLsn)
  // Catalog ids repeat on every append: one (awaited) catalog lookup per id per group.
  const known = new Map<number, string>()
  const lookup = async (id: number): Promise<string> => {
    let s = known.get(id)
    if (s === undefined) {
      s = await name(id)
      known.set(id, s)
    }
    return s
  }
  const streams: string[] = []
  for (const id of streamIds) streams.push(await lookup(id))
  const batches: GroupBatch[] = new Array(raw.length)
  for (let b = 0; b < raw.length; b++) {
    const { moduleId, coreId, seq, rts } = raw[b]!
    const module = known.get(moduleId) ?? (await lookup(moduleId))
    const core = coreId === 0 ? '' : (known.get(coreId) ?? (await lookup(coreId)))
    batches[b] = { module, core, seq, rts }
  }
  return { ...columns, streams, batches }
}

const kGroupDecoder: GroupDecoder = {
  decode: decodeColumns,
  take(item: unknown, out: unknown[], budget: ReadBudget): number | undefined {
    const g = item as CommittedGroup
    if (g.filtered) {
      // Nothing here is handed to anyone; its records count against the budget so that one
      // read() over a long unwanted stretch still returns (and the caller's offsets advance).
      if (budget.minRts !== undefined && g.filtered.maxRts >= budget.minRts) budget.minRts = undefined
      const records = g.count - g.first
      if (out.length > 0 && records > budget.records) return undefined
      budget.records -= records
      out.push(g)
      return g.baseLsn + g.count
    }
    let first = g.first
    if (budget.minRts !== undefined) {
      // fromTimeUs: records before the first one received at or after it are skipped.
      const min = budget.minRts
      while (first < g.count && g.batches[g.batch[first]!]!.rts < min) first++
      if (first === g.count) return g.baseLsn + g.count
      budget.minRts = undefined
    }
    const records = g.count - first
    const bytes = g.bodyEnd[g.count - 1]! - g.bodyStart[first]!
    if (out.length > 0 && (records > budget.records || bytes > budget.bytes)) return undefined
    budget.records -= records
    budget.bytes -= bytes
    out.push(first === g.first ? g : { ...g, first })
    return g.baseLsn + g.count
  },
}
