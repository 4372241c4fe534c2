// Per-module high-water marks (highest seq appended per module): the engine's duplicate check
// (moduleHwm) reads them. Two views: `live` includes appends not yet durable; `durable` only what a
// commit made durable, which the checkpoint persists and a failure falls back to.
//
// Idle modules leave memory (issue 11 item 3): a module neither appended to nor looked up for a
// whole `moduleIdleMs` period, whose durable mark is already in the HWM snapshot on disk (not
// dirty) and has nothing pending, is dropped from both maps. When it comes back, its mark is read
// back from that snapshot, so its duplicates are still detected. The snapshot is parsed once for a
// burst of returning modules (kept kColdKeepMs, then dropped), and not at all for a name the
// catalog has never seen (a new module). A full snapshot always includes the evicted modules.

const kColdKeepMs = 5_000

export class ModuleMarks {
  #live: Map<string, bigint>
  #durable: Map<string, bigint>
  /** Modules whose durable mark changed since the last HWM snapshot (checkpointer.ts). */
  readonly dirty = new Set<string>()
  /** Modules used since the last sweep. */
  #touched = new Set<string>()
  /** Modules that left memory since open (and not all came back). */
  #evicted = 0
  #cold: Map<string, bigint> | undefined
  #coldTimer: NodeJS.Timeout | undefined
  #loadCold: () => Map<string, bigint>
  #known: (name: string) => boolean

  /**
   * `loadCold`: the marks of the newest full HWM snapshot (synchronous: moduleHwm is); `known`:
   * whether the catalog has the name (a module without a mark never wrote, so it has none).
   */
  constructor(
    recovered: ReadonlyMap<string, bigint>,
    loadCold: () => Map<string, bigint>,
    known: (name: string) => boolean,
  ) {
    this.#live = new Map(recovered)
    this.#durable = new Map(recovered)
    this.#loadCold = loadCold
    this.#known = known
  }

  #coldMarks(): Map<string, bigint> {
    if (!this.#cold) {
      this.#cold = this.#loadCold()
      this.#coldTimer = setTimeout(() => {
        this.#cold = undefined
      }, kColdKeepMs)
      this.#coldTimer.unref()
    }
    return this.#cold
  }

  get(module: string): bigint {
    this.#touched.add(module)
    const v = this.#live.get(module)
    if (v !== undefined || this.#evicted === 0 || !this.#known(module)) return v ?? 0n
    const c = this.#coldMarks().get(module)
    if (c === undefined) return 0n
    // Back in memory: not dirty, the snapshot holds this value.
    this.#live.set(module, c)
    this.#durable.set(module, c)
    return c
  }

  appended(module: string, seq: bigint): void {
    let prev = this.#live.get(module)
    if (prev === undefined && this.#evicted > 0) {
      this.get(module) // back from the snapshot, if it left memory
      prev = this.#live.get(module)
    }
    this.#touched.add(module)
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

  /** Modules in memory (catalog compaction keeps their names). */
  modules(): IterableIterator<string> {
    return this.#live.keys()
  }

  get inMemory(): number {
    return this.#live.size
  }

  /** What a full snapshot must hold: the modules in memory and those that left it. */
  snapshotEntries(): Map<string, bigint> {
    if (this.#evicted === 0) return new Map(this.#durable)
    const all = new Map(this.#coldMarks())
    for (const [m, s] of this.#durable) all.set(m, s)
    return all
  }

  /** Idle modules not yet in the snapshot (dirty): the caller writes a full snapshot first. */
  idleDirty(): boolean {
    for (const m of this.dirty) if (!this.#touched.has(m)) return true
    return false
  }

  /**
   * End of a period: modules not used during it leave memory if the snapshot has their mark and
   * nothing is pending for them. Returns how many left.
   */
  sweep(): number {
    let n = 0
    for (const [m, s] of this.#durable) {
      if (this.#touched.has(m) || this.dirty.has(m) || this.#live.get(m) !== s) continue
      this.#durable.delete(m)
      this.#live.delete(m)
      n++
    }
    this.#evicted += n
    this.#touched = new Set()
    this.#dropCold()
    return n
  }

  #dropCold(): void {
    clearTimeout(this.#coldTimer)
    this.#cold = undefined
  }

  /** At close. */
  stop(): void {
    this.#dropCold()
  }

  /** After a failure: what was appended but not durable is gone. */
  rollback(): void {
    this.#live = new Map(this.#durable)
  }
}
