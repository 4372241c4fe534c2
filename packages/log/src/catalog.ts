// The name catalog: stream, module and core names interned to small integers so that records carry
// 1-2 byte ids instead of names. One id space for all three kinds; ids are never reused.
//
//   catalog file:  "MICATLG1" | entry*      entry: u32 crc32(len|name) | u16 len | name (utf8)
//                                           hole:  u32 crc32(0|n)      | u16 0   | u32 n
//   id of an entry = its 1-based position; a hole stands for n ids whose names compaction dropped
//   (catalog-compact.ts: no retained segment uses them). Ids after a hole keep their numbers.
//
// Rule: an entry is fdatasync'ed before the first group that references it is written, so a durable
// group never names an id the catalog lacks. A torn last entry is therefore never referenced and is
// truncated by the writer at open.
import fs from 'node:fs'
import { crc32 } from 'node:zlib'
import { namesFromSegments } from './catalog-rebuild.ts'

export const kCatalogMagic = Buffer.from('MICATLG1', 'latin1')
export const kCatalogFile = 'catalog'

/** names[id - 1]; undefined: a dropped id (a hole), never given to another name. */
export type CatalogNames = (string | undefined)[]

export interface CatalogLoad {
  names: CatalogNames
  validBytes: number // where the next entry goes
}

/** Parse catalog bytes; stops at the first torn or bad entry. */
export function parseCatalog(buf: Buffer): CatalogLoad {
  const names: CatalogNames = []
  if (buf.length < kCatalogMagic.length || !buf.subarray(0, 8).equals(kCatalogMagic)) {
    return { names, validBytes: 0 }
  }
  let pos = 8
  while (pos + 6 <= buf.length) {
    const c = buf.readUInt32LE(pos)
    let len = buf.readUInt16LE(pos + 4)
    const hole = len === 0
    if (hole) len = 4
    if (pos + 6 + len > buf.length) break
    if (crc32(buf.subarray(pos + 4, pos + 6 + len)) !== c) break
    if (hole) {
      const n = buf.readUInt32LE(pos + 6)
      if (n === 0) break
      names.length += n
    } else names.push(buf.toString('utf8', pos + 6, pos + 6 + len))
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

function encodeHole(n: number): Buffer {
  const b = Buffer.allocUnsafe(10)
  b.writeUInt16LE(0, 4)
  b.writeUInt32LE(n, 6)
  b.writeUInt32LE(crc32(b.subarray(4)), 0)
  return b
}

/** Entries for names (ids from the caller's position on), runs of holes as one hole entry each. */
export function encodeCatalogEntries(names: CatalogNames): Buffer {
  const parts: Buffer[] = []
  let holes = 0
  for (let i = 0; i < names.length; i++) {
    const n = names[i]
    if (n === undefined || n === '') {
      holes++
      continue
    }
    if (holes > 0) parts.push(encodeHole(holes))
    holes = 0
    parts.push(encodeCatalogEntry(n))
  }
  if (holes > 0) parts.push(encodeHole(holes))
  return Buffer.concat(parts)
}

/** A whole catalog file. */
export function encodeCatalog(names: CatalogNames): Buffer {
  return Buffer.concat([kCatalogMagic, encodeCatalogEntries(names)])
}

/**
 * Reader-side view: re-reads only the new tail when an unknown id shows up, learns names declared
 * in groups (format.ts kFlagNames), and as a last resort rebuilds them from the segments (a
 * missing or lagging catalog file must not make readers skip intact data).
 */
export class CatalogView {
  readonly path: string
  names: (string | undefined)[] = []
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
    // Smaller: compacted (catalog-compact.ts). Names it dropped are used by no retained segment, so
    // they leave this reader's memory too (a group naming one is learned again from its segment).
    if (validBytes < this.#bytes) this.names = []
    this.#bytes = validBytes
    this.learn(1, names)
  }
  /** Names declared for ids firstId, firstId + 1, …; a known id keeps its name ('': a hole). */
  learn(firstId: number, names: CatalogNames): void {
    for (const [i, n] of names.entries()) {
      const id = firstId + i
      if (n === undefined || n === '' || this.names[id - 1] !== undefined) continue
      this.names[id - 1] = n
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
