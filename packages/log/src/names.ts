// The writer's side of the catalog (name → id, see "Catalog rule" in index.ts): interning,
// persisting new names before the first group that uses them can be durable, and which ids each
// group uses (a segment's ids decide what catalog compaction may drop: catalog-compact.ts).
import { type CatalogNames, encodeCatalogEntries } from './catalog.ts'
import type { FlushStrategy } from './flush-policy.ts'
import type { WriterIo } from './io.ts'

/** What a group records about the ids it uses (group.ts Group). */
export interface IdUser {
  serial: number
  ids: number[]
}

export class NameCatalog {
  fd: number
  #names: CatalogNames
  #ids = new Map<string, number>()
  /** id → serial of the last group that used it: each group lists an id once, without a Set. */
  #stamp: number[] = []
  /** Ids compaction dropped (holes; their names may come back with new ids). */
  dropped = 0
  /** Bumped when ids stop resolving (compaction): callers caching name → id must drop the cache. */
  generation = 0
  /** Async persists in flight: compaction swaps the file only between them. */
  persisting = 0
  /** Valid bytes of the catalog file. */
  #bytes: number
  /** names[0..persisted) are in the file. */
  #persisted: number

  constructor(fd: number, names: CatalogNames, bytes: number) {
    this.fd = fd
    this.#names = names
    for (let i = 0; i < names.length; i++) {
      const n = names[i]
      if (n !== undefined) this.#ids.set(n, i + 1)
      else this.dropped++
    }
    this.#bytes = bytes
    this.#persisted = names.length
  }

  get persisted(): number {
    return this.#persisted
  }

  get bytes(): number {
    return this.#bytes
  }

  has(name: string): boolean {
    return this.#ids.has(name)
  }

  /** Names held (ids not dropped). */
  get live(): number {
    return this.#ids.size
  }

  /** Highest id given out (holes included). */
  get size(): number {
    return this.#names.length
  }

  name(id: number): string | undefined {
    return this.#names[id - 1]
  }

  id(name: string): number | undefined {
    return this.#ids.get(name)
  }

  /** Group `g` uses these ids (module, core, the batch's streams): listed once per group. */
  used(g: IdUser, moduleId: number, coreId: number, streamIds: number[]): void {
    const st = this.#stamp
    const s = g.serial
    if (st[moduleId] !== s) {
      st[moduleId] = s
      g.ids.push(moduleId)
    }
    if (coreId !== 0 && st[coreId] !== s) {
      st[coreId] = s
      g.ids.push(coreId)
    }
    for (let i = 0; i < streamIds.length; i++) {
      const id = streamIds[i]!
      if (st[id] !== s) {
        st[id] = s
        g.ids.push(id)
      }
    }
  }

  /**
   * Compaction's first step, synchronous: ids in `drop` stop resolving (a name used again gets a
   * new id, never the old one), and the catalog as it must be on disk without them is returned.
   * Their names stay in memory until `swap` (or come back with `undrop` if the rewrite fails).
   */
  detach(drop: number[]): { bytes: Buffer; persisted: number } {
    for (const id of drop) this.#ids.delete(this.#names[id - 1]!)
    this.generation++
    const gone = new Set(drop)
    const kept = this.#names.slice(0, this.#persisted).map((n, i) => (gone.has(i + 1) ? undefined : n))
    return { bytes: encodeCatalogEntries(kept), persisted: this.#persisted }
  }

  /** The rewrite failed: the names resolve to their old ids again (unless re-interned meanwhile). */
  undrop(drop: number[]): void {
    for (const id of drop) {
      const n = this.#names[id - 1]!
      if (!this.#ids.has(n)) this.#ids.set(n, id)
    }
  }

  /** Entries persisted since `from` (ids from + 1 …): appended to the new file before it replaces the old. */
  entriesSince(from: number): Buffer {
    return encodeCatalogEntries(this.#names.slice(from, this.#persisted))
  }

  /** The new file replaced the old one: write there from now on; the dropped names leave memory. */
  swap(fd: number, bytes: number, drop: number[]): void {
    this.fd = fd
    this.#bytes = bytes
    for (const id of drop) {
      this.#names[id - 1] = undefined
      this.#stamp[id] = 0
    }
    this.dropped += drop.length
  }
  /** The id of `name`; a name seen for the first time is added to `newNames` (its group's). */
  intern(name: string, newNames: string[]): number {
    let id = this.#ids.get(name)
    if (id === undefined) {
      id = this.#names.push(name)
      this.#ids.set(name, id)
      newNames.push(name)
    }
    return id
  }

  /**
   * Names a group declares: its new ones, or (`all`: the first group of a segment) every one it may
   * use, so that the catalog can be rebuilt from the segments (catalog-rebuild.ts).
   */
  declared(
    newNames: string[],
    all: boolean,
    segmentSizeBytes: number,
  ): { firstId: number; names: string[] } | undefined {
    const upto = this.#persisted + newNames.length
    // A catalog too big to repeat per segment is declared only as it grows (rebuild then needs
    // the segment that introduced a name: see README "Catalog").
    // Dropped ids are declared as '' (a hole), so a rebuild still knows every id from 1.
    if (all && upto > 0 && this.#bytes <= segmentSizeBytes / 4)
      return { firstId: 1, names: Array.from(this.#names.slice(0, upto), (n) => n ?? '') }
    if (newNames.length === 0) return undefined
    return { firstId: this.#persisted + 1, names: newNames }
  }

  /** The catalog entry must be durable before any group naming it can be: written (and synced) first. */
  async persist(io: WriterIo, flush: FlushStrategy, names: string[]): Promise<void> {
    const buf = encodeCatalogEntries(names)
    this.persisting++
    try {
      await io.writev(this.fd, [buf], this.#bytes)
      if (flush.syncsCommits) await io.fdatasync(this.fd)
    } finally {
      this.persisting--
    }
    this.#bytes += buf.length
    this.#persisted += names.length
  }

  /** As persist, blocking (Log.commitSync). */
  persistSync(io: WriterIo, flush: FlushStrategy, names: string[]): void {
    const buf = encodeCatalogEntries(names)
    io.writevSync(this.fd, [buf], this.#bytes)
    if (flush.syncsCommits) io.fdatasyncSync(this.fd)
    this.#bytes += buf.length
    this.#persisted += names.length
  }

  /** After a failure: names interned but never written are forgotten. */
  rollback(): void {
    for (const n of this.#names.splice(this.#persisted)) if (n !== undefined) this.#ids.delete(n)
  }

  /** Retry probe: cut a torn entry the failed write may have left. */
  async truncate(io: WriterIo): Promise<void> {
    await io.ftruncate(this.fd, this.#bytes)
    await io.fdatasync(this.fd)
  }
}
