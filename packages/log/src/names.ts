// The writer's side of the catalog (name → id, see "Catalog rule" in index.ts): interning, and
// persisting new names before the first group that uses them can be durable.
import { encodeCatalogEntry } from './catalog.ts'
import type { FlushStrategy } from './flush-policy.ts'
import type { WriterIo } from './io.ts'

export class NameCatalog {
  readonly fd: number
  #names: string[]
  #ids = new Map<string, number>()
  /** Valid bytes of the catalog file. */
  #bytes: number
  /** names[0..persisted) are in the file. */
  #persisted: number

  constructor(fd: number, names: string[], bytes: number) {
    this.fd = fd
    this.#names = names
    for (const [i, n] of names.entries()) this.#ids.set(n, i + 1)
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
    if (all && upto > 0 && this.#bytes <= segmentSizeBytes / 4)
      return { firstId: 1, names: this.#names.slice(0, upto) }
    if (newNames.length === 0) return undefined
    return { firstId: this.#persisted + 1, names: newNames }
  }

  /** The catalog entry must be durable before any group naming it can be: written (and synced) first. */
  async persist(io: WriterIo, flush: FlushStrategy, names: string[]): Promise<void> {
    const buf = Buffer.concat(names.map(encodeCatalogEntry))
    await io.writev(this.fd, [buf], this.#bytes)
    if (flush.syncsCommits) await io.fdatasync(this.fd)
    this.#bytes += buf.length
    this.#persisted += names.length
  }

  /** As persist, blocking (Log.commitSync). */
  persistSync(io: WriterIo, flush: FlushStrategy, names: string[]): void {
    const buf = Buffer.concat(names.map(encodeCatalogEntry))
    io.writevSync(this.fd, [buf], this.#bytes)
    if (flush.syncsCommits) io.fdatasyncSync(this.fd)
    this.#bytes += buf.length
    this.#persisted += names.length
  }

  /** After a failure: names interned but never written are forgotten. */
  rollback(): void {
    for (const n of this.#names.splice(this.#persisted)) this.#ids.delete(n)
  }

  /** Retry probe: cut a torn entry the failed write may have left. */
  async truncate(io: WriterIo): Promise<void> {
    await io.ftruncate(this.fd, this.#bytes)
    await io.fdatasync(this.fd)
  }
}
