import { MAX_MODULE_NAME, MAX_STREAM_NAME } from './constants.ts'

/**
 * Name rules (PROTOCOL.md "A record" and "Names") and scope matching ("Scopes").
 *
 * - stream: 1..255 of `[A-Za-z0-9._-]`, not starting with `.`
 * - module / core: 1..128 of `[A-Za-z0-9._:-]`
 */

const kStream = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/
const kModule = /^[A-Za-z0-9._:-]+$/

export function isValidStreamName(name: unknown): name is string {
  return typeof name === 'string' && name.length >= 1 && name.length <= MAX_STREAM_NAME && kStream.test(name)
}

export function isValidModuleName(name: unknown): name is string {
  return typeof name === 'string' && name.length >= 1 && name.length <= MAX_MODULE_NAME && kModule.test(name)
}

/** Core names follow the module rules. */
export const isValidCoreName = isValidModuleName

/**
 * Module names starting with `mi:` belong to the server itself (derived and dead-letter records are
 * written as `mi:subscribers`). No HELLO may claim one, whatever credential pattern would match it:
 * a client able to write there could spoof `dlq.*` records or poison the internal writer's seq.
 */
export const RESERVED_MODULE_PREFIX = 'mi:'

export function isReservedModuleName(name: string): boolean {
  return name.startsWith(RESERVED_MODULE_PREFIX)
}

// Byte-level check for the decoder's hot path: avoids building a string for a name that is rejected.
const kStreamByte = new Uint8Array(256)
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-')
  kStreamByte[c.charCodeAt(0)] = 1

/** True when `bytes[start, end)` is a valid stream name (length 1..255, allowed bytes, no leading '.'). */
export function isValidStreamBytes(bytes: Uint8Array, start: number, end: number): boolean {
  const n = end - start
  if (n < 1 || n > MAX_STREAM_NAME || bytes[start] === 0x2e) return false
  for (let i = start; i < end; i++) if (kStreamByte[bytes[i]!] !== 1) return false
  return true
}

/** `*` matches any run of characters (dots included); everything else is literal. */
export function matchPattern(pattern: string, name: string): boolean {
  // Iterative wildcard match with single-star backtracking: linear-ish, no regex built from input.
  let p = 0
  let n = 0
  let star = -1
  let mark = 0
  while (n < name.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === name[n]) {
      p++
      n++
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++
      mark = n
    } else if (star >= 0) {
      p = star + 1
      n = ++mark
    } else {
      return false
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++
  return p === pattern.length
}

/**
 * Whether `scopes` grant `action` on `stream`: a `write:<pattern>` / `read:<pattern>` scope whose
 * pattern matches, or `admin`, which implies every read and write. Unknown scope strings are ignored.
 */
export function matchScope(scopes: readonly string[], action: 'write' | 'read', stream: string): boolean {
  const prefix = action === 'write' ? 'write:' : 'read:'
  for (const s of scopes) {
    if (s === 'admin') return true
    if (s.startsWith(prefix) && matchPattern(s.slice(prefix.length), stream)) return true
  }
  return false
}
