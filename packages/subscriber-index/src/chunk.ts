/**
 * Rollup chunks: one row per (series, minute) holds the minute's totals (the 1 min rollup) and a
 * blob of its per-second cells (the 1 s rollup). A batch then writes one row per series and minute
 * it touched instead of one per series and second: with producer times spread over a minute or
 * more, that is up to 60x fewer row writes, and a 1 h @ 1 s query reads 60 rows, not 3,600.
 *
 * Cells blob: present seconds only, in second order, each `kCell` little-endian f64s
 * `[second, count, min, max, sum, last, last_ts, last_lsn]` (µs and lsns are below 2^53).
 */
import type { StatementSync } from 'node:sqlite'
import type { Aggregation } from './query.ts'

export const kMinuteUs = 60_000_000
export const kSecondUs = 1_000_000
/** f64s per cell in the blob. */
export const kCell = 8
/** f64s per second in a dense (in-memory) chunk: count, min, max, sum, last, last_ts, last_lsn. */
const kDense = 7

/** Totals of a bucket (a second cell, a minute row, a query step): what a rollup aggregates. */
export interface Totals {
  count: number
  min: number
  max: number
  sum: number
  last: number
  lastTs: number
  lastLsn: number
}

/** The blob `row()` writes into: SQLite copies a bound blob, so one buffer serves every row. */
const kBlob = new Float64Array(60 * kCell)

/** A chunk being built or merged in memory: dense seconds (count 0 = empty). */
export class Chunk {
  readonly cells = new Float64Array(60 * kDense)
  maxLsn = 0

  /** Add one point at `sec` (0..59). */
  add(sec: number, v: number, ts: number, lsn: number): void {
    const c = this.cells
    const o = sec * kDense
    if (c[o] === 0) {
      c[o] = 1
      c[o + 1] = v
      c[o + 2] = v
      c[o + 3] = v
      c[o + 4] = v
      c[o + 5] = ts
      c[o + 6] = lsn
    } else {
      c[o]!++
      if (v < c[o + 1]!) c[o + 1] = v
      if (v > c[o + 2]!) c[o + 2] = v
      c[o + 3]! += v
      if (ts > c[o + 5]! || (ts === c[o + 5] && lsn > c[o + 6]!)) {
        c[o + 4] = v
        c[o + 5] = ts
        c[o + 6] = lsn
      }
    }
    if (lsn > this.maxLsn) this.maxLsn = lsn
  }

  /** Set second `sec` from a schema 1 `rollup_1s` row (the migration). */
  set(sec: number, cell: readonly number[], maxLsn: number): void {
    for (let k = 0; k < kDense; k++) this.cells[sec * kDense + k] = cell[k]!
    if (maxLsn > this.maxLsn) this.maxLsn = maxLsn
  }

  /** Merge a stored blob (cells of earlier batches) into this chunk. */
  merge(blob: Uint8Array, maxLsn: number): void {
    const s = cellsOf(blob)
    const c = this.cells
    for (let i = 0; i < s.length; i += kCell) {
      const o = s[i]! * kDense
      if (c[o] === 0) {
        for (let k = 0; k < kDense; k++) c[o + k] = s[i + 1 + k]!
        continue
      }
      c[o]! += s[i + 1]!
      if (s[i + 2]! < c[o + 1]!) c[o + 1] = s[i + 2]!
      if (s[i + 3]! > c[o + 2]!) c[o + 2] = s[i + 3]!
      c[o + 3]! += s[i + 4]!
      const ts = s[i + 6]!
      const lsn = s[i + 7]!
      if (ts > c[o + 5]! || (ts === c[o + 5] && lsn > c[o + 6]!)) {
        c[o + 4] = s[i + 5]!
        c[o + 5] = ts
        c[o + 6] = lsn
      }
    }
    if (maxLsn > this.maxLsn) this.maxLsn = maxLsn
  }

  /** The row to store: the minute's totals and the cells blob (valid until the next call). */
  row(): Totals & { blob: Uint8Array } {
    const c = this.cells
    const out = kBlob
    let count = 0
    let min = Number.POSITIVE_INFINITY
    let max = Number.NEGATIVE_INFINITY
    let sum = 0
    let last = 0
    let lastTs = Number.NEGATIVE_INFINITY
    let lastLsn = 0
    let j = 0
    for (let sec = 0; sec < 60; sec++) {
      const o = sec * kDense
      if (c[o] === 0) continue
      out[j] = sec
      for (let k = 0; k < kDense; k++) out[j + 1 + k] = c[o + k]!
      j += kCell
      count += c[o]!
      if (c[o + 1]! < min) min = c[o + 1]!
      if (c[o + 2]! > max) max = c[o + 2]!
      sum += c[o + 3]!
      if (c[o + 5]! > lastTs || (c[o + 5] === lastTs && c[o + 6]! > lastLsn)) {
        last = c[o + 4]!
        lastTs = c[o + 5]!
        lastLsn = c[o + 6]!
      }
    }
    return { count, min, max, sum, last, lastTs, lastLsn, blob: new Uint8Array(out.buffer, 0, j * 8) }
  }
}

/** Write a chunk row (replacing the stored one, which the caller merged in). */
export const kChunkPut = `INSERT OR REPLACE INTO rollup
  (series, minute, count, min, max, sum, last, last_ts, last_lsn, max_lsn, cells)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

export function putChunk(st: StatementSync, series: number, minute: number, c: Chunk): void {
  const r = c.row()
  st.run(series, minute, r.count, r.min, r.max, r.sum, r.last, r.lastTs, r.lastLsn, c.maxLsn, r.blob)
}

/** The f64s of a stored blob (copied when SQLite's buffer is not 8-byte aligned). */
export function cellsOf(blob: Uint8Array): Float64Array {
  if (blob.byteOffset % 8 === 0) return new Float64Array(blob.buffer, blob.byteOffset, blob.byteLength / 8)
  return new Float64Array(blob.slice().buffer)
}

/** The start of the minute holding `ts` (µs, floor also below the epoch). */
export const minuteOf = (ts: number) => ts - (((ts % kMinuteUs) + kMinuteUs) % kMinuteUs)

/**
 * The value of agg for the totals at `o` of `r`, laid out `[_, count, min, max, sum, last, ...]`:
 * a `Row` (o = 0) or a cell of a stored blob (o = its start).
 */
export function aggregateAt(r: ArrayLike<number>, o: number, agg: Aggregation): number {
  switch (agg) {
    case 'avg':
      return r[o + 4]! / r[o + 1]!
    case 'min':
      return r[o + 2]!
    case 'max':
      return r[o + 3]!
    case 'sum':
      return r[o + 4]!
    case 'count':
      return r[o + 1]!
    case 'last':
      return r[o + 5]!
  }
}
