/**
 * The semver subset the host-range check needs, so the SDK stays dependency-free:
 * `*`, `x`, `1.2.3`, `1.x`, `^1.2[.3]`, `~1.2[.3]`, `>=`, `>`, `<=`, `<`, `=`, space-separated
 * conjunctions and `||` alternatives. Prerelease tags compare lower than their release, without
 * npm's rule that a range only matches prereleases of the same tuple.
 */
type Version = [number, number, number, string]

function parse(v: string): Version | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(v.trim())
  return m ? [Number(m[1]), Number(m[2]), Number(m[3]), m[4] ?? ''] : undefined
}

function cmp(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number)
  if (a[3] === b[3]) return 0
  if (a[3] === '') return 1
  if (b[3] === '') return -1
  return a[3] < b[3] ? -1 : 1
}

// A partial like `1`, `1.2`, `1.x` as [major, minor|undefined, patch|undefined].
function partial(s: string): (number | undefined)[] | undefined {
  const parts = s.split('.')
  if (parts.length > 3) return undefined
  const out: (number | undefined)[] = []
  for (const p of parts) {
    if (p === 'x' || p === 'X' || p === '*') break
    if (!/^\d+$/.test(p)) return undefined
    out.push(Number(p))
  }
  return out
}

function comparator(c: string, v: Version): boolean {
  const m = /^(\^|~|>=|<=|>|<|=)?\s*(.*)$/.exec(c)!
  const op = m[1] ?? ''
  const rest = m[2] ?? ''
  if (rest === '*' || rest === 'x' || rest === '') return true
  const full = parse(rest)
  if (full && (op === '>=' || op === '<=' || op === '>' || op === '<' || op === '=' || op === '')) {
    const r = cmp(v, full)
    if (op === '>=') return r >= 0
    if (op === '<=') return r <= 0
    if (op === '>') return r > 0
    if (op === '<') return r < 0
    return r === 0
  }
  const p = full ? [full[0], full[1], full[2]] : partial(rest)
  if (!p || p.length === 0) throw new TypeError(`unsupported semver range: ${c}`)
  const lo: Version = [p[0] ?? 0, p[1] ?? 0, p[2] ?? 0, full?.[3] ?? '']
  let hi: Version
  if (op === '^') {
    // Caret: the left-most non-zero part is fixed.
    if (lo[0] > 0 || p.length === 1) hi = [lo[0] + 1, 0, 0, '']
    else if (lo[1] > 0 || p.length === 2) hi = [0, lo[1] + 1, 0, '']
    else hi = [0, 0, lo[2] + 1, '']
  } else if (op === '~' || op === '' || op === '=') {
    if (p.length === 3 && op !== '~') return cmp(v, lo) === 0
    hi = p.length === 1 ? [lo[0] + 1, 0, 0, ''] : [lo[0], lo[1] + 1, 0, '']
  } else {
    throw new TypeError(`unsupported semver range: ${c}`)
  }
  return cmp(v, lo) >= 0 && cmp(v, hi) < 0
}

/** Does `version` fall in `range`? Throws TypeError for an unparsable version or range. */
export function satisfies(version: string, range: string): boolean {
  const v = parse(version)
  if (!v) throw new TypeError(`invalid version: ${version}`)
  return range.split('||').some((alt) =>
    alt
      .trim()
      .replace(/(\^|~|>=|<=|>|<|=)\s+/g, '$1')
      .split(/\s+/)
      .every((c) => comparator(c, v)),
  )
}
