// Rebuilding the name catalog from the segments. Every group that is the first to use a name
// declares it (format.ts kFlagNames), and the first group of each segment declares them all
// (unless the catalog is too big to repeat, see names.ts declared), so the segments alone say
// which id is which name. Recovery uses this when `catalog` is missing, torn, or behind the
// segments (it is fdatasync'ed only under flush 'always' before the groups that use it); readers use
// it for an id the catalog file does not know. Damaged groups are skipped (scan.ts findNextGroup).
import nodeFs from 'node:fs'
import path from 'node:path'
import {
  type CatalogNames,
  encodeCatalog,
  encodeCatalogEntries,
  kCatalogFile,
  parseCatalog,
} from './catalog.ts'
import { MI_ERR_LOG_CATALOG_MISSING } from './errors.ts'
import { kSegmentHeaderBytes, segmentName } from './format.ts'
import { fs } from './fsio.ts'
import { writeFileAtomic } from './meta.ts'
import { scanReadableGroups } from './scan.ts'
import { listSegmentBases } from './segments.ts'

export interface RebuiltNames {
  /** names[id - 1]; holes (undefined) are ids no surviving group declares; '' an id declared dropped. */
  names: (string | undefined)[]
  /** Two groups declared different names for one id (two logs mixed in one directory). */
  conflicts: { id: number; names: [string, string]; segment: string }[]
}

/** Every declaration in every segment, newest segment first (whose first group usually has them all). */
export async function namesFromSegments(dir: string): Promise<RebuiltNames> {
  const names: (string | undefined)[] = []
  const conflicts: RebuiltNames['conflicts'] = []
  const bases = await listSegmentBases(dir)
  for (const base of bases.reverse()) {
    const name = segmentName(base)
    let fd: number
    try {
      fd = nodeFs.openSync(path.join(dir, name), 'r')
    } catch {
      continue // removed by retention meanwhile
    }
    try {
      const size = nodeFs.fstatSync(fd).size
      await scanReadableGroups(fd, base, 16, size, (g) => {
        const d = g.header.names
        if (!d) return true
        d.names.forEach((n, i) => {
          const id = d.firstId + i
          const had = names[id - 1]
          // '' is a dropped id (catalog-compact.ts); an older segment may still name it: keep the name.
          if (had === undefined || had === '') names[id - 1] = n
          else if (had !== n && n !== '') conflicts.push({ id, names: [had, n], segment: name })
        })
        return true
      })
    } finally {
      nodeFs.closeSync(fd)
    }
  }
  return { names, conflicts }
}

/** Length of the run of known names from id 1. */
export function knownPrefix(names: (string | undefined)[]): number {
  let n = 0
  while (n < names.length && names[n] !== undefined) n++
  return n
}

// ---------------------------------------------------------------------------------------------
// Recovery's step 1: open the catalog file, or rebuild it.

export interface OpenedCatalog {
  fd: number
  names: CatalogNames
  bytes: number
}

/**
 * Open the catalog, rebuilding it from the segments when it is missing or unreadable (issue: a
 * missing 74-byte catalog used to turn every sealed segment into "unknown catalog id" corruption).
 * Refuses with MI_ERR_LOG_CATALOG_MISSING rather than start an empty catalog over data that uses
 * ids it cannot name: restoring the file from a backup must still bring the data back.
 */
export async function openCatalog(
  dir: string,
  bases: number[],
  report: { catalog?: 'rebuilt' },
  fileMode: number,
): Promise<OpenedCatalog> {
  const file = path.join(dir, kCatalogFile)
  let buf: Buffer | undefined
  try {
    buf = await fs.promises.readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  let { names, validBytes } = buf ? parseCatalog(buf) : { names: [] as CatalogNames, validBytes: 0 }
  const hasData = bases.some((b) => fs.statSync(path.join(dir, segmentName(b))).size > kSegmentHeaderBytes)
  if (validBytes === 0 && hasData) {
    const rebuilt = await namesFromSegments(dir)
    const known = knownPrefix(rebuilt.names)
    if (rebuilt.conflicts.length > 0 || known < rebuilt.names.length) {
      const why =
        rebuilt.conflicts.length > 0
          ? `segments declare two names for id ${rebuilt.conflicts[0]!.id} (${rebuilt.conflicts[0]!.segment})`
          : `no surviving segment declares id ${known + 1} (written by an older version, or its segment was deleted)`
      throw new MI_ERR_LOG_CATALOG_MISSING(dir, buf ? 'unreadable' : 'missing', why, dir, dir)
    }
    names = rebuilt.names.map((n) => (n === '' ? undefined : n))
    report.catalog = 'rebuilt'
  }
  if (validBytes === 0 || report.catalog === 'rebuilt') {
    await writeFileAtomic(file, encodeCatalog(names), true, fileMode)
    const fd = fs.openSync(file, 'r+')
    return { fd, names, bytes: fs.fstatSync(fd).size }
  }
  const fd = fs.openSync(file, 'r+')
  if (validBytes < buf!.length) {
    // A torn last entry: the segments declare it again if a durable group uses it.
    fs.ftruncateSync(fd, validBytes)
    fs.fdatasyncSync(fd)
  }
  return { fd, names, bytes: validBytes }
}

/** Append names the scan found declared in groups but missing from the catalog file (fdatasynced). */
export function extendCatalog(cat: OpenedCatalog, from: number): void {
  if (cat.names.length <= from) return
  const add = encodeCatalogEntries(cat.names.slice(from))
  fs.writeSync(cat.fd, add, 0, add.length, cat.bytes)
  fs.fdatasyncSync(cat.fd)
  cat.bytes += add.length
}
