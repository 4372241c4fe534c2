// The writer's side of an encoded append (entry-format.ts): EncodedReader parses the header and
// maps the append's names to catalog ids, recognising repeated names blocks by their bytes.

import {
  dataView,
  type EncodedHeader,
  kEncodedVersion,
  kFixedBytes,
  kFlagCrc,
  kFlagTs64,
} from './entry-format.ts'
import { MI_ERR_LOG_APPEND_INVALID } from './errors.ts'
import { kBadVarint, varintAt as readVarint, varintEnd } from './varint-at.ts'

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The writer's side: parses encoded appends and maps their names to catalog ids. Appends repeat
 * a few module/core/name-table blocks (one per session): those are recognised by their bytes and
 * their ids reused instead of decoded.
 */
export class EncodedReader {
  readonly header: EncodedHeader = {
    rts: 0,
    firstTs: 0,
    seq: 0n,
    count: 0,
    crc: 0,
    ts64: false,
    module: '',
    core: '',
    tableStart: 0,
    recordsStart: 0,
  }
  /** What the last append's names block (module · core · table bytes) maps to. */
  #last: NamesEntry | undefined
  /**
   * Names blocks seen lately, by a hash of their bytes (checked against the bytes): sessions
   * interleave in a ring, so the last block alone misses often. Bounded by a clear.
   */
  #cache = new Map<number, NamesEntry>()

  /** Parse `b`'s header (throws MI_ERR_LOG_APPEND_INVALID when malformed). */
  read(b: Uint8Array): EncodedHeader {
    const h = this.header
    try {
      if (b.length < kFixedBytes || b[0] !== kEncodedVersion) throw new RangeError('version')
      const v = dataView(b)
      const o = b.byteOffset
      h.rts = v.getFloat64(o + 2, true)
      h.firstTs = v.getFloat64(o + 10, true)
      h.seq = v.getBigUint64(o + 18, true)
      h.count = v.getUint32(o + 26, true)
      h.crc = b[1]! & kFlagCrc ? v.getUint32(o + 30, true) : -1
      h.ts64 = (b[1]! & kFlagTs64) !== 0
      let p = skipName(b, kFixedBytes)
      if (p === kFixedBytes + 1) throw new RangeError('empty module')
      p = skipName(b, p)
      h.tableStart = p
      const k = varintAt(b, p)
      p = at
      for (let i = 0; i < k; i++) p = skipName(b, p)
      h.recordsStart = p
      if (h.count < 1 || k < 1 || k > h.count) throw new RangeError('header')
      // firstTs is the nearest double of a u64 in ts64 appends (a summary, not the record's ts).
      if (
        !Number.isSafeInteger(h.rts) ||
        h.rts < 0 ||
        !(h.ts64 ? Number.isInteger(h.firstTs) : Number.isSafeInteger(h.firstTs))
      )
        throw new RangeError('ts')
    } catch (err) {
      this.#last = undefined
      throw new MI_ERR_LOG_APPEND_INVALID(`malformed encoded append (${(err as Error).message})`)
    }
    return h
  }

  /**
   * Catalog ids of the last read append's stream names (moduleId/coreId beside them), interning
   * new ones. Cached by the names' bytes within one `epoch` (a log failure forgets names).
   */
  ids(b: Uint8Array, epoch: number, intern: (name: string) => number): number[] {
    const h = this.header
    const end = h.recordsStart
    let e = this.#last
    if (e === undefined || e.epoch !== epoch || !sameBytes(b, kFixedBytes, end, e.bytes)) {
      const key = fnv1a(b, kFixedBytes, end)
      e = this.#cache.get(key)
      if (e === undefined || e.epoch !== epoch || !sameBytes(b, kFixedBytes, end, e.bytes)) {
        e = decodeNames(b, epoch, intern, end)
        if (this.#cache.size >= 4096) this.#cache.clear()
        this.#cache.set(key, e)
      }
      this.#last = e
    }
    h.module = e.module
    h.core = e.core
    return e.ids
  }
  get moduleId(): number {
    return this.#last?.moduleId ?? 0
  }
  get coreId(): number {
    return this.#last?.coreId ?? 0
  }
}

interface NamesEntry {
  /** The names block's bytes (the cache key's truth). */
  bytes: Uint8Array
  epoch: number
  module: string
  core: string
  moduleId: number
  coreId: number
  ids: number[]
}

function decodeNames(
  b: Uint8Array,
  epoch: number,
  intern: (name: string) => number,
  end: number,
): NamesEntry {
  const module = readName(b, kFixedBytes)
  const core = readName(b, at)
  const k = varintAt(b, at)
  let p = at
  const ids = new Array<number>(k)
  for (let i = 0; i < k; i++) {
    const n = readName(b, p)
    p = at
    if (n.length === 0) throw new MI_ERR_LOG_APPEND_INVALID('stream must be a non-empty string')
    ids[i] = intern(n)
  }
  const bytes = b.slice(kFixedBytes, end)
  return { bytes, epoch, module, core, moduleId: intern(module), coreId: core === '' ? 0 : intern(core), ids }
}

/** FNV-1a over a names block (a few dozen bytes): a cache key that costs no allocation. */
function fnv1a(b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193)
  return h
}

// Varint reads over a plain (buffer, offset): the end position is left in `at` (no allocation).
let at = 0
function varintAt(b: Uint8Array, p: number): number {
  const v = readVarint(b, p)
  if (v === kBadVarint) throw new RangeError('truncated or over-long varint')
  at = varintEnd.end
  return v
}
function skipName(b: Uint8Array, p: number): number {
  const len = varintAt(b, p)
  if (at + len > b.length) throw new RangeError('truncated')
  return at + len
}
function readName(b: Uint8Array, p: number): string {
  const end = skipName(b, p)
  const s = utf8.decode(b.subarray(end - varintAt(b, p), end))
  at = end
  return s
}
function sameBytes(b: Uint8Array, start: number, end: number, last: Uint8Array): boolean {
  const n = end - start
  if (n !== last.length) return false
  // A JS loop: names are a few dozen bytes, shorter than a native compare's call overhead.
  for (let i = 0; i < n; i++) if (b[start + i] !== last[i]) return false
  return true
}
