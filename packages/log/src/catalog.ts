// The name catalog: stream, module and core names interned to small integers so that records carry
// 1-2 byte ids instead of names. One id space for all three kinds; ids are never reused.
//
//   catalog file:  "MICATLG1" | entry*      entry: u32 crc32(len|name) | u16 len | name (utf8)
//   id of an entry = its 1-based position.
//
// Rule: an entry is fdatasync'ed before the first group that references it is written, so a durable
// group never names an id the catalog lacks. A torn last entry is therefore never referenced and is
// truncated by the writer at open.
import fs from 'node:fs'
import { crc32 } from 'node:zlib'
import { namesFromSegments } from './catalog-rebuild.ts'

export const kCatalogMagic = Buffer.from('MICATLG1', 'latin1')
export const kCatalogFile = 'catalog'

export interface CatalogLoad {
  names: string[] // names[id - 1]
  validBytes: number // where the next entry goes
}

/** Parse catalog bytes; stops at the first torn or bad entry. */
export function parseCatalog(buf: Buffer): CatalogLoad {
  const names: string[] = []
  if (buf.length < kCatalogMagic.length || !buf.subarray(0, 8).equals(kCatalogMagic)) {
    return { names, validBytes: 0 }
  }
  let pos = 8
  while (pos + 6 <= buf.length) {
    const c = buf.readUInt32LE(pos)
    const len = buf.readUInt16LE(pos + 4)
    if (len === 0 || pos + 6 + len > buf.length) break
    if (crc32(buf.subarray(pos + 4, pos + 6 + len)) !== c) break
    names.push(buf.toString('utf8', pos + 6, pos + 6 + len))
    pos += 6 + len
  }
  return { names, validBytes: pos }
}

export function encodeCatalogEntry(name: string): Buffer {
  const nb = Buffer.from(name, 'utf8')
  const b = Buffer.allocUnsafe(6 + nb.length)
  b.writeUInt16LE(nb.length, 4)
  nb.copy(b, 6)
  b.writeUInt32LE(crc32(b.subarray(4)), 0)
  return b
}

/**
 * Reader-side view: re-reads only the new tail when an unknown id shows up, learns names declared
 * in groups (format.ts kFlagNames), and as a last resort rebuilds them from the segments (a
 * missing or lagging catalog file must not make readers skip intact data).
 */
export class CatalogView {
  readonly path: string
  names: (string | undefined)[] = []
  ids = new Map<string, number>()
  #bytes = 0
  #rebuiltAt = -1
  constructor(path: string) {
    this.path = path
  }
  async refresh(): Promise<void> {
    let buf: Buffer
    try {
      buf = await fs.promises.readFile(this.path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    if (buf.length === this.#bytes) return
    const { names, validBytes } = parseCatalog(buf)
    this.#bytes = validBytes
    this.learn(1, names)
  }
  /** Names declared for ids firstId, firstId + 1, …; a known id keeps its name. */
  learn(firstId: number, names: string[]): void {
    for (const [i, n] of names.entries()) {
      const id = firstId + i
      if (this.names[id - 1] !== undefined) continue
      this.names[id - 1] = n
      this.ids.set(n, id)
    }
  }
  /** Scan the segments of `dir` for declarations (once per size of the catalog file). */
  async rebuild(dir: string): Promise<void> {
    if (this.#rebuiltAt === this.#bytes) return
    this.#rebuiltAt = this.#bytes
    const { names } = await namesFromSegments(dir)
    for (const [i, n] of names.entries()) if (n !== undefined) this.learn(i + 1, [n])
  }
  name(id: number): string | undefined {
    return this.names[id - 1]
  }
}
