// Per-module high-water marks (highest seq appended per module): the engine's duplicate check
// (moduleHwm) reads them. Two views: `live` includes appends not yet durable; `durable` only what a
// commit made durable, which the checkpoint persists and a failure falls back to.

export class ModuleMarks {
  #live: Map<string, bigint>
  #durable: Map<string, bigint>
  /** Modules whose durable mark changed since the last HWM snapshot (checkpointer.ts). */
  readonly dirty = new Set<string>()

  constructor(recovered: ReadonlyMap<string, bigint>) {
    this.#live = new Map(recovered)
    this.#durable = new Map(recovered)
  }

  get(module: string): bigint {
    return this.#live.get(module) ?? 0n
  }

  appended(module: string, seq: bigint): void {
    const prev = this.#live.get(module)
    if (prev === undefined || seq > prev) this.#live.set(module, seq)
  }

  /** A group holding these marks became durable. */
  durableMarked(marks: ReadonlyMap<string, bigint>): void {
    for (const [m, s] of marks) {
      const prev = this.#durable.get(m)
      if (prev === undefined || s > prev) {
        this.#durable.set(m, s)
        this.dirty.add(m)
      }
    }
  }

  get durable(): ReadonlyMap<string, bigint> {
    return this.#durable
  }

  /** After a failure: what was appended but not durable is gone. */
  rollback(): void {
    this.#live = new Map(this.#durable)
  }
}
