/**
 * The JSON text of a rollup chunk's per-second buckets (`[t,v],[t,v],…`), for 1 s range queries.
 * Formatting 3,600 numbers was most of an hour's query; a minute once past changes rarely, so the
 * text of each whole minute is kept and reused while its stored cells are byte for byte the same.
 *
 * Why compare the blob rather than trust an lsn or a write notification: the writer is another
 * connection (often another thread) that may rewrite any minute at any time (late records merge
 * into old chunks, retention deletes them, a rebuild renumbers series), and equal bytes give equal
 * text whatever happened. The compare is a memcmp of the ~4 KB the query reads anyway.
 */
import { aggregateAt, cellsOf, kCell, kMinuteUs, kSecondUs } from './chunk.ts'
import type { Aggregation } from './query.ts'

/** Minutes kept (~6 KB each: the blob and its text): 34 series-hours of one aggregation. */
const kMaxMinutes = 2048

export class MinuteTexts {
  #cache = new Map<string, { blob: Uint8Array; text: Buffer }>()

  /**
   * The buckets of chunk (minute, blob) in [from, to) as JSON array elements, ASCII bytes (empty
   * when none). Bytes, not strings: a reply is then one memcpy of its parts, where joining strings
   * built by `+=` walked each rope again on every query.
   */
  text(series: number, minute: number, blob: Uint8Array, agg: Aggregation, from: number, to: number): Buffer {
    // A minute cut by the range is formatted as asked and not kept.
    if (minute < from || minute + kMinuteUs > to) return format(minute, blob, agg, from, to)
    const key = `${series}/${minute}/${agg}`
    const hit = this.#cache.get(key)
    if (hit !== undefined && Buffer.compare(hit.blob, blob) === 0) return hit.text
    const text = format(minute, blob, agg, from, to)
    if (hit === undefined && this.#cache.size >= kMaxMinutes) {
      // Oldest first (insertion order): live minutes are re-formatted anyway.
      this.#cache.delete(this.#cache.keys().next().value!)
    }
    // node:sqlite hands out a fresh buffer per row: keeping it copies nothing.
    this.#cache.set(key, { blob, text })
    return text
  }

  clear(): void {
    this.#cache.clear()
  }
}

/** As `JSON.stringify` writes `[t, v]` pairs (a non-finite number is `null`). */
function format(minute: number, blob: Uint8Array, agg: Aggregation, from: number, to: number): Buffer {
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
