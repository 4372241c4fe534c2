/**
 * The JSON text of a rollup chunk's per-second buckets (`[t,v],[t,v],…`), for 1 s range queries.
 * Formatting 3,600 numbers (and decoding 60 blobs) was most of an hour's query; a minute once
 * past changes rarely, so the text of each whole minute is kept and reused while its row's
 * version is unchanged.
 *
 * The version is the row's (count, max_lsn). Why that pair changes whenever the cells do: the
 * writer only ever adds points to a stored chunk (a late record merges into its minute, whatever
 * the lsn order between writer threads), so any change raises `count`; a row is only ever removed
 * whole, by retention once `max_lsn` is below the log's oldest lsn, and a row made again later
 * holds a newer record, so its `max_lsn` differs. A rebuild writes another file, which this
 * reader's connection does not see. No notification from the writer (another connection, often
 * another thread) is needed.
 */
import { aggregateAt, cellsOf, kCell, kMinuteUs, kSecondUs } from './chunk.ts'
import type { Aggregation, RangeFormat } from './query.ts'

/** Minutes kept (~2 KB of text each): 68 series-hours of one aggregation. */
const kMaxMinutes = 4096

export class MinuteTexts {
  #cache = new Map<string, { count: number; maxLsn: number; text: Buffer }>()

  /**
   * The buckets of the chunk row (minute, count, maxLsn) in [from, to) as JSON array elements,
   * ASCII bytes; `cells` reads the row's blob when the text must be made. `points`: `[t,v]` per
   * present second (empty when none); `values`: one value per second of the minute inside
   * [from, to), `null` where it has none. Bytes, not strings: a reply is then one copy of its parts.
   */
  text(
    series: number,
    minute: number,
    count: number,
    maxLsn: number,
    agg: Aggregation,
    shape: RangeFormat,
    from: number,
    to: number,
    cells: () => Uint8Array,
  ): Buffer {
    const format = shape === 'values' ? formatValues : formatPoints
    // A minute cut by the range is formatted as asked and not kept.
    if (minute < from || minute + kMinuteUs > to) return format(minute, cells(), agg, from, to)
    const key = `${series}/${minute}/${agg}/${shape}`
    const hit = this.#cache.get(key)
    if (hit !== undefined && hit.count === count && hit.maxLsn === maxLsn) return hit.text
    const text = format(minute, cells(), agg, from, to)
    if (hit === undefined && this.#cache.size >= kMaxMinutes) {
      // Oldest first (insertion order): live minutes are re-formatted anyway.
      this.#cache.delete(this.#cache.keys().next().value!)
    }
    this.#cache.set(key, { count, maxLsn, text })
    return text
  }

  clear(): void {
    this.#cache.clear()
  }
}

/** As `JSON.stringify` writes `[t, v]` pairs (a non-finite number is `null`). */
function formatPoints(minute: number, blob: Uint8Array, agg: Aggregation, from: number, to: number): Buffer {
  const c = cellsOf(blob)
  let s = ''
  for (let i = 0; i < c.length; i += kCell) {
    const t = minute + c[i]! * kSecondUs
    if (t < from || t >= to) continue
    const v = aggregateAt(c, i, agg)
    s += `${s === '' ? '[' : ',['}${t},${Number.isFinite(v) ? v : 'null'}]`
  }
  return Buffer.from(s, 'latin1')
}

/** As `JSON.stringify` writes the values of the seconds in [from, to), `null` for an empty one. */
function formatValues(minute: number, blob: Uint8Array, agg: Aggregation, from: number, to: number): Buffer {
  const c = cellsOf(blob)
  const lo = Math.max(minute, from)
  const hi = Math.min(minute + kMinuteUs, to)
  let s = ''
  let i = 0
  for (let t = lo; t < hi; t += kSecondUs) {
    while (i < c.length && minute + c[i]! * kSecondUs < t) i += kCell
    let v: number | null = null
    if (i < c.length && minute + c[i]! * kSecondUs === t) v = aggregateAt(c, i, agg)
    s += `${t === lo ? '' : ','}${v !== null && Number.isFinite(v) ? v : 'null'}`
  }
  return Buffer.from(s, 'latin1')
}
