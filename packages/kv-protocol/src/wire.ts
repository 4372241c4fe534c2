/**
 * The materializer's fast path for the commonest record: a plain JSON set (`{ op: 'set', key,
 * type: 'json', value, txn? }`, no rev, no ttlMs), read straight from the body's bytes instead of a
 * general MessagePack decode plus JSON.parse (about 0.55 → 0.1 µs of a set's ~6 µs).
 *
 * It only ever says "yes, this is exactly that op" or "don't know" (undefined): anything else —
 * another op or field, a duplicate field, a non-ASCII key or value, a value its validator cannot
 * vouch for, an odd encoding, trailing bytes — goes to the general decoder, which gives the same
 * result or the error. ASCII only, so every UTF-8 decoder agrees on the strings. So it changes no
 * outcome, only what an accepted op costs (ops.test.ts compares both on random and damaged bodies).
 */

// A cycle (ops.ts imports this file), harmless: kLimits is only read when a body is decoded.
import { kLimits } from './ops.ts'

/** A plain JSON set: key, stored text and transaction size. */
export interface PlainSet {
  key: string
  text: string
  txn: number
}

// The field names, as fixstr bytes.
const F_OP = 1
const F_KEY = 2
const F_TYPE = 4
const F_VALUE = 8
const F_TXN = 16
const kNames: Record<number, string> = {
  [F_OP]: 'op',
  [F_KEY]: 'key',
  [F_TYPE]: 'type',
  [F_VALUE]: 'value',
  [F_TXN]: 'txn',
}

/** Bytes from `s` to `e` as a string, or undefined unless all are ASCII. */
function ascii(b: Uint8Array, s: number, e: number): string | undefined {
  for (let i = s; i < e; i++) if (b[i]! > 0x7f) return undefined
  return latin1.call(b, s, e) as string
}
const latin1 = Buffer.prototype.latin1Slice

/** Matches `b[s..e)` against an ASCII literal. */
function eq(b: Uint8Array, s: number, e: number, lit: string): boolean {
  if (e - s !== lit.length) return false
  for (let i = 0; i < lit.length; i++) if (b[s + i] !== lit.charCodeAt(i)) return false
  return true
}

export function plainJsonSet(b: Uint8Array): PlainSet | undefined {
  const end = b.length
  let i = 0
  let n: number
  const h = b[i++]!
  if (h >= 0x80 && h <= 0x8f) n = h & 0x0f
  else if (h === 0xde && end >= 3) {
    n = (b[1]! << 8) | b[2]!
    i = 3
  } else return undefined
  let seen = 0
  let key: string | undefined
  let textAt = 0
  let textEnd = 0
  let txn = 1
  for (let k = 0; k < n; k++) {
    // A field name: a fixstr.
    if (i >= end) return undefined
    const fh = b[i]!
    if (fh < 0xa0 || fh > 0xbf) return undefined
    const fs = i + 1
    const fe = fs + (fh & 0x1f)
    if (fe > end) return undefined
    // Told apart by length and first letter, then compared whole.
    const l0 = b[fs]
    const f =
      fe - fs === 2 ? F_OP : fe - fs === 4 ? F_TYPE : fe - fs === 5 ? F_VALUE : l0 === 0x6b ? F_KEY : F_TXN
    if (!eq(b, fs, fe, kNames[f]!)) return undefined
    if (seen & f) return undefined
    seen |= f
    i = fe
    if (i >= end) return undefined
    const vh = b[i]!
    if (f === F_TXN) {
      // txn: a positive fixint, uint8 or uint16.
      if (vh <= 0x7f) {
        txn = vh
        i += 1
      } else if (vh === 0xcc && i + 1 < end) {
        txn = b[i + 1]!
        i += 2
      } else if (vh === 0xcd && i + 2 < end) {
        txn = (b[i + 1]! << 8) | b[i + 2]!
        i += 3
      } else return undefined
      continue
    }
    // Every other field: a string (fixstr, str8, str16, str32).
    let s: number
    let len: number
    if (vh >= 0xa0 && vh <= 0xbf) {
      s = i + 1
      len = vh & 0x1f
    } else if (vh === 0xd9 && i + 1 < end) {
      s = i + 2
      len = b[i + 1]!
    } else if (vh === 0xda && i + 2 < end) {
      s = i + 3
      len = (b[i + 1]! << 8) | b[i + 2]!
    } else if (vh === 0xdb && i + 4 < end) {
      s = i + 5
      len = ((b[i + 1]! << 24) | (b[i + 2]! << 16) | (b[i + 3]! << 8) | b[i + 4]!) >>> 0
    } else return undefined
    const e = s + len
    if (e > end) return undefined
    i = e
    if (f === F_OP) {
      if (!eq(b, s, e, 'set')) return undefined
    } else if (f === F_TYPE) {
      if (!eq(b, s, e, 'json')) return undefined
    } else if (f === F_KEY) {
      // checkKey's rules: non-empty, no NUL, at most 1024 bytes (ASCII: one byte a character).
      if (len === 0 || len > kLimits.keyBytes) return undefined
      for (let j = s; j < e; j++) if (b[j] === 0) return undefined
      key = ascii(b, s, e)
      if (key === undefined) return undefined
    } else {
      textAt = s
      textEnd = e
    }
  }
  if (i !== end || seen !== (F_OP | F_KEY | F_TYPE | F_VALUE | (seen & F_TXN))) return undefined
  if (txn < 1 || txn > kLimits.txnOps) return undefined
  if (!isJson(b, textAt, textEnd)) return undefined
  const text = ascii(b, textAt, textEnd)
  if (text === undefined || key === undefined) return undefined
  return { key, text, txn }
}

// JSON's insignificant whitespace: space, tab, LF, CR (nothing else: JSON.parse agrees).
function ws(b: Uint8Array, i: number, e: number): number {
  while (i < e) {
    const c = b[i]!
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break
    i++
  }
  return i
}

const isHex = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
const isDigit = (c: number) => c >= 0x30 && c <= 0x39

/** A string starting at the quote at `i`: the index after its closing quote, or -1. */
function str(b: Uint8Array, i: number, e: number): number {
  i++
  while (i < e) {
    const c = b[i]!
    if (c === 0x22) return i + 1
    if (c < 0x20 || c > 0x7f) return -1
    if (c === 0x5c) {
      const x = b[i + 1]
      if (x === 0x75) {
        if (i + 5 >= e) return -1
        if (!isHex(b[i + 2]!) || !isHex(b[i + 3]!) || !isHex(b[i + 4]!) || !isHex(b[i + 5]!)) return -1
        i += 6
      } else if (
        x === 0x22 ||
        x === 0x5c ||
        x === 0x2f ||
        x === 0x62 ||
        x === 0x66 ||
        x === 0x6e ||
        x === 0x72 ||
        x === 0x74
      )
        i += 2
      else return -1
    } else i++
  }
  return -1
}

/** A number starting at `i` (RFC 8259 grammar): the index after it, or -1. */
function num(b: Uint8Array, i: number, e: number): number {
  if (b[i] === 0x2d) i++
  if (i >= e) return -1
  if (b[i] === 0x30) i++
  else if (b[i]! >= 0x31 && b[i]! <= 0x39) while (i < e && isDigit(b[i]!)) i++
  else return -1
  if (i < e && b[i] === 0x2e) {
    i++
    if (i >= e || !isDigit(b[i]!)) return -1
    while (i < e && isDigit(b[i]!)) i++
  }
  if (i < e && (b[i] === 0x65 || b[i] === 0x45)) {
    i++
    if (i < e && (b[i] === 0x2b || b[i] === 0x2d)) i++
    if (i >= e || !isDigit(b[i]!)) return -1
    while (i < e && isDigit(b[i]!)) i++
  }
  return i
}

const kMaxDepth = 256
const stack = new Uint8Array(kMaxDepth)

/**
 * True only if `b[s..e)` is ASCII JSON text that JSON.parse accepts; false for anything else
 * (invalid, non-ASCII, nested deeper than kMaxDepth), which the caller hands to JSON.parse.
 * Iterative: a deep document cannot overflow the stack.
 */
export function isJson(b: Uint8Array, s: number, e: number): boolean {
  let depth = 0
  let i = ws(b, s, e)
  for (;;) {
    // A value at i.
    if (i >= e) return false
    const c = b[i]!
    if (c === 0x7b || c === 0x5b) {
      i = ws(b, i + 1, e)
      if (i < e && b[i] === (c === 0x7b ? 0x7d : 0x5d)) i++
      else {
        if (depth === kMaxDepth) return false
        stack[depth++] = c
        if (c === 0x7b) {
          i = member(b, i, e)
          if (i < 0) return false
        }
        continue
      }
    } else if (c === 0x22) i = str(b, i, e)
    else if (c === 0x2d || isDigit(c)) i = num(b, i, e)
    else if (c === 0x74) i = lit(b, i, e, 'true')
    else if (c === 0x66) i = lit(b, i, e, 'false')
    else if (c === 0x6e) i = lit(b, i, e, 'null')
    else return false
    if (i < 0) return false
    // After a value: close containers, or a comma and the next value.
    for (;;) {
      i = ws(b, i, e)
      if (depth === 0) return i === e
      if (i >= e) return false
      const top = stack[depth - 1]!
      const x = b[i]!
      if (x === (top === 0x7b ? 0x7d : 0x5d)) {
        depth--
        i++
        continue
      }
      if (x !== 0x2c) return false
      i = ws(b, i + 1, e)
      if (top === 0x7b) {
        i = member(b, i, e)
        if (i < 0) return false
      }
      break
    }
  }
}

/** An object member's name and colon at `i`: the index of its value, or -1. */
function member(b: Uint8Array, i: number, e: number): number {
  if (i >= e || b[i] !== 0x22) return -1
  i = str(b, i, e)
  if (i < 0) return -1
  i = ws(b, i, e)
  if (i >= e || b[i] !== 0x3a) return -1
  return ws(b, i + 1, e)
}

function lit(b: Uint8Array, i: number, e: number, l: string): number {
  return i + l.length <= e && eq(b, i, i + l.length, l) ? i + l.length : -1
}
