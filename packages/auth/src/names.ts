/** MIP/1 module and core names: 1..128 characters of `[A-Za-z0-9._:-]`. */
export const NAME_RE = /^[A-Za-z0-9._:-]{1,128}$/
/** A module name or a glob over module names (`*` matches any run, dots included). */
export const MODULE_PATTERN_RE = /^[A-Za-z0-9._:*-]{1,128}$/
/** `write:<pattern>`, `read:<pattern>` over stream names, or `admin` (PROTOCOL.md "Scopes"). */
export const SCOPE_RE = /^(?:admin|(?:write|read):[A-Za-z0-9._*-]{1,255})$/

export function isValidName(name: unknown): name is string {
  return typeof name === 'string' && NAME_RE.test(name)
}

/**
 * Glob match where `*` matches any run of characters and everything else is literal.
 * Iterative with single-star backtracking, O(pattern × text) worst case: module names are
 * attacker-chosen, so a RegExp with several `.*` (polynomial backtracking) is avoided on purpose.
 */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0
  let t = 0
  let star = -1
  let mark = 0
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === text[t]) {
      p++
      t++
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++
      mark = t
    } else if (star !== -1) {
      p = star + 1
      t = ++mark
    } else {
      return false
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++
  return p === pattern.length
}
