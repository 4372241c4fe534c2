import { isValidModuleName, matchPattern } from '@module-ingest/protocol'

/** MIP/1 module and core names: 1..128 characters of `[A-Za-z0-9._:-]`. */
export const NAME_RE = /^[A-Za-z0-9._:-]{1,128}$/
/** A module name or a glob over module names (`*` matches any run, dots included). */
export const MODULE_PATTERN_RE = /^[A-Za-z0-9._:*-]{1,128}$/
/** `write:<pattern>`, `read:<pattern>` over stream names, or `admin` (PROTOCOL.md "Scopes"). */
export const SCOPE_RE = /^(?:admin|(?:write|read):[A-Za-z0-9._*-]{1,255})$/

/** MIP/1 module/core name check (one definition, in @module-ingest/protocol). */
export const isValidName: (name: unknown) => name is string = isValidModuleName

/**
 * Glob match where `*` matches any run of characters and everything else is literal (PROTOCOL.md
 * "Scopes"). Protocol's implementation is iterative, never a RegExp built from a pattern: module
 * names are attacker-chosen and several `.*` would backtrack polynomially.
 */
export const globMatch: (pattern: string, text: string) => boolean = matchPattern

/**
 * How specific a module pattern is: its literal (non-`*`) characters, then fewer stars. An exact
 * name is more specific than any glob that matches it. Used to pick the governing credential.
 */
export function patternSpecificity(pattern: string): [literals: number, stars: number] {
  let stars = 0
  for (const ch of pattern) if (ch === '*') stars++
  return [pattern.length - stars, stars]
}

/** > 0 when `a` is more specific than `b`, < 0 when less, 0 when equally specific. */
export function compareSpecificity(a: string, b: string): number {
  const [la, sa] = patternSpecificity(a)
  const [lb, sb] = patternSpecificity(b)
  return la !== lb ? la - lb : sb - sa
}

/**
 * Whether some module name matches both globs (`*` = any run). Patterns are ≤ 128 characters:
 * a memoised walk over the two positions is at most 129² steps.
 */
export function patternsOverlap(a: string, b: string): boolean {
  const seen = new Set<number>()
  const width = b.length + 1
  const walk = (i: number, j: number): boolean => {
    if (i === a.length && j === b.length) return true
    const key = i * width + j
    if (seen.has(key)) return false
    seen.add(key)
    if (i < a.length && a[i] === '*') {
      // The star matches nothing more, or swallows b's next character (literal or star).
      if (walk(i + 1, j) || (j < b.length && walk(i, j + 1))) return true
      return false
    }
    if (j < b.length && b[j] === '*') return walk(i, j + 1) || (i < a.length && walk(i + 1, j))
    return i < a.length && j < b.length && a[i] === b[j] && walk(i + 1, j + 1)
  }
  return walk(0, 0)
}
