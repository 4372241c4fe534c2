// Rebuilding the name catalog from the segments. Every group that is the first to use a name
// declares it (format.ts kFlagNames), and the first group of each segment declares them all
// (unless the catalog is too big to repeat, see log.ts #declaredNames), so the segments alone say
// which id is which name. Recovery uses this when `catalog` is missing, torn, or behind the
// segments (it is fdatasync'ed only under flush 'always' before the groups that use it); readers use
// it for an id the catalog file does not know. Damaged groups are skipped (scan.ts findNextGroup).
import nodeFs from 'node:fs'
import path from 'node:path'
import { segmentName } from './format.ts'
import { findNextGroup, scanGroups } from './scan.ts'
import { listSegmentBases } from './segments.ts'

export interface RebuiltNames {
  /** names[id - 1]; holes (undefined) are ids no surviving group declares. */
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
      let offset = 16
      while (offset < size) {
        const stop = await scanGroups(fd, offset, size, (g) => {
          const d = g.header.names
          if (!d) return true
          d.names.forEach((n, i) => {
            const id = d.firstId + i
            const had = names[id - 1]
            if (had === undefined) names[id - 1] = n
            else if (had !== n) conflicts.push({ id, names: [had, n], segment: name })
          })
          return true
        })
        if (stop.reason === undefined) break
        const next = await findNextGroup(fd, stop.offset, size, base, base + size)
        if (next === undefined) break
        offset = next
      }
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
