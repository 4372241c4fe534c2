/**
 * The last `size` rows per (module, stream), for models that take a time window as one row.
 *
 * Redelivery (at-least-once) must not push a record twice, and must give the same window as the
 * first delivery (whose emits were discarded with the failed attempt). So each key keeps some
 * history past `size`, with lsns: a redelivered record finds its own entry and rebuilds the
 * window that ended there.
 */
interface Entry {
  lsn: number
  /** The record's position in its key's sequence (0, 1, 2 …): decides the hop. */
  pos: number
  row: Float32Array
}

interface KeyWindow {
  entries: Entry[]
  next: number
  appliedLsn: number
}

// History kept beyond the window, in records per key: a redelivered batch reaches this far back
// (the runtime's default batch is 500 records). Trimmed in steps of kTrimStep to amortise splice.
export const WINDOW_HISTORY = 512
const kTrimStep = 128

export class WindowStore {
  readonly #size: number
  readonly #hop: number
  readonly #maxKeys: number
  readonly #keys = new Map<string, KeyWindow>()

  constructor(size: number, hop: number, maxKeys: number) {
    this.#size = size
    this.#hop = hop
    this.#maxKeys = maxKeys
  }

  get keys(): number {
    return this.#keys.size
  }

  #key(module: string, stream: string): KeyWindow {
    const key = `${module}\u0000${stream}`
    let kw = this.#keys.get(key)
    if (kw) {
      // Map order is insertion order: re-inserting marks the key as recently seen.
      this.#keys.delete(key)
    } else {
      kw = { entries: [], next: 0, appliedLsn: 0 }
      if (this.#keys.size >= this.#maxKeys) this.#keys.delete(this.#keys.keys().next().value!)
    }
    this.#keys.set(key, kw)
    return kw
  }

  /** True when this lsn was already folded into its key's window (a redelivery). */
  seen(module: string, stream: string, lsn: number): boolean {
    const kw = this.#keys.get(`${module}\u0000${stream}`)
    return kw !== undefined && lsn <= kw.appliedLsn
  }

  /** Adds a new record's row (copied). */
  push(module: string, stream: string, lsn: number, row: Float32Array): void {
    const kw = this.#key(module, stream)
    kw.entries.push({ lsn, pos: kw.next++, row: row.slice() })
    kw.appliedLsn = lsn
    const keep = this.#size + WINDOW_HISTORY
    if (kw.entries.length > keep + kTrimStep) kw.entries.splice(0, kw.entries.length - keep)
  }

  /**
   * Writes the window that ends at `lsn` into `out` (oldest first) and returns the lsn of its
   * first record, or undefined when no window ends there (not full yet, between hops, too old).
   */
  windowAt(
    module: string,
    stream: string,
    lsn: number,
    out: Float32Array,
    offset: number,
  ): number | undefined {
    const kw = this.#keys.get(`${module}\u0000${stream}`)
    if (!kw) return undefined
    const { entries } = kw
    let i = entries.length - 1
    while (i >= 0 && entries[i]!.lsn > lsn) i--
    if (i < 0 || entries[i]!.lsn !== lsn) return undefined
    const end = entries[i]!
    if (end.pos + 1 < this.#size || (end.pos + 1 - this.#size) % this.#hop !== 0) return undefined
    const first = i - this.#size + 1
    if (first < 0) return undefined
    for (let k = 0; k < this.#size; k++) {
      const row = entries[first + k]!.row
      out.set(row, offset + k * row.length)
    }
    return entries[first]!.lsn
  }
}
