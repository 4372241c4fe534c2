/**
 * Mean and standard deviation over the last `size` samples, O(1) per sample. Running sums drift
 * with floating-point error as values enter and leave, so they are recomputed from the window
 * each time it wraps around (amortised O(1)).
 */
export class RollingStats {
  readonly #values: Float64Array
  #count = 0
  #next = 0
  #sum = 0
  #sumSq = 0

  constructor(size: number) {
    this.#values = new Float64Array(size)
  }

  get count(): number {
    return this.#count
  }

  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count
  }

  /** Population standard deviation of the window. */
  get stddev(): number {
    if (this.#count < 2) return 0
    const mean = this.#sum / this.#count
    return Math.sqrt(Math.max(0, this.#sumSq / this.#count - mean * mean))
  }

  push(value: number): void {
    const size = this.#values.length
    if (this.#count === size) {
      const old = this.#values[this.#next]!
      this.#sum -= old
      this.#sumSq -= old * old
    } else {
      this.#count++
    }
    this.#values[this.#next] = value
    this.#sum += value
    this.#sumSq += value * value
    this.#next = (this.#next + 1) % size
    if (this.#next === 0) this.#resum()
  }

  #resum(): void {
    let sum = 0
    let sumSq = 0
    for (let i = 0; i < this.#count; i++) {
      const v = this.#values[i]!
      sum += v
      sumSq += v * v
    }
    this.#sum = sum
    this.#sumSq = sumSq
  }
}
