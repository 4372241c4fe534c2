/**
 * The last N samples, oldest first, in a fixed-size ring: memory stays bounded however long the
 * server runs. Each sample gets a sequence number (the SSE event id), so a client that reconnects
 * with Last-Event-ID gets exactly the samples it missed that are still kept.
 */
export class History<T> {
  readonly capacity: number
  readonly #items: Array<{ id: number; value: T } | undefined>
  #next = 1 // id of the next sample; ids start at 1 so 0 means "nothing seen"
  #size = 0

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be an integer ≥ 1')
    this.capacity = capacity
    this.#items = new Array(capacity)
  }

  get size(): number {
    return this.#size
  }

  /** Id of the newest sample, 0 when empty. */
  get lastId(): number {
    return this.#next - 1
  }

  push(value: T): number {
    const id = this.#next++
    this.#items[id % this.capacity] = { id, value }
    if (this.#size < this.capacity) this.#size++
    return id
  }

  /** Samples with an id greater than `afterId` that are still kept, oldest first. */
  since(afterId = 0): Array<{ id: number; value: T }> {
    const out: Array<{ id: number; value: T }> = []
    const first = Math.max(afterId + 1, this.#next - this.#size)
    for (let id = first; id < this.#next; id++)
      out.push(this.#items[id % this.capacity] as { id: number; value: T })
    return out
  }

  latest(): { id: number; value: T } | undefined {
    return this.#size === 0 ? undefined : this.#items[(this.#next - 1) % this.capacity]
  }
}
