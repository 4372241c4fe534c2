/**
 * A fixed-size ring of the last N log lines, kept in memory so `module-ingest logs` can show
 * what the server said recently without reading a file. It is a pino destination: pino hands it
 * one serialised JSON line per `write()`.
 */
export class MemoryLogRing {
  readonly capacity: number
  #lines: string[]
  #next = 0
  #size = 0

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer')
    this.capacity = capacity
    this.#lines = new Array(capacity)
  }

  write(line: string): boolean {
    // pino lines end in '\n'; store them without it so readers can join as they like.
    this.#lines[this.#next] = line.endsWith('\n') ? line.slice(0, -1) : line
    this.#next = (this.#next + 1) % this.capacity
    if (this.#size < this.capacity) this.#size++
    return true
  }

  /** The last `n` lines (all kept lines by default), oldest first. */
  recent(n = this.#size): string[] {
    const count = Math.max(0, Math.min(n, this.#size))
    const out: string[] = new Array(count)
    let i = (this.#next - count + this.capacity) % this.capacity
    for (let k = 0; k < count; k++) {
      out[k] = this.#lines[i] as string
      i = (i + 1) % this.capacity
    }
    return out
  }

  get size(): number {
    return this.#size
  }
}
