/**
 * Reads the declared top-level numeric fields of a JSON object straight from its bytes, without
 * decoding the body to a string or building an object (for a small sensor body JSON.parse costs
 * more than the rest of a plugin's work on it: the ai and index subscribers both read bodies this
 * way). It accepts only what it can decode exactly: a flat object of ASCII keys without escapes
 * whose other values are numbers, literals or escape-free ASCII strings, with numbers whose value
 * `m × 10^e` has m < 2^53 and |e| ≤ 22 (then one IEEE multiply or divide is correctly rounded, so
 * the value equals JSON.parse's). Anything else - nested values, escapes, non-ASCII, a BOM, long or
 * huge numbers, a declared field that is not a number, invalid JSON - declines the body and the
 * caller takes the JSON.parse path (which also words an error). Duplicate keys: the last one wins,
 * as in JSON.parse.
 */

/**
 * Reads the declared fields of `body` into `out[offset + i]` (field i; NaN when absent) and
 * returns how many were present, or -1 when it declines the body (`out` is then unspecified).
 */
export type JsonFieldReader = (body: Uint8Array, out: Float32Array | Float64Array, offset: number) => number

const kPow10 = Array.from({ length: 23 }, (_, i) => 10 ** i) // exact doubles up to 1e22
const kMaxMantissa = 2 ** 53

function skipWs(b: Uint8Array, p: number): number {
  for (;;) {
    const c = b[p]
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return p
    p++
  }
}

/** Skips an escape-free ASCII string at p (on its opening quote): the index after it, or -1. */
function skipString(b: Uint8Array, p: number): number {
  const end = b.length
  for (p++; p < end; p++) {
    const c = b[p]!
    if (c === 0x22) return p + 1
    if (c === 0x5c || c < 0x20 || c >= 0x80) return -1
  }
  return -1
}

/** A reader of `fields`, or undefined when one is not a plain top-level key (a dotted path). */
export function jsonFieldReader(fields: readonly string[]): JsonFieldReader | undefined {
  const keys: Uint8Array[] = []
  for (const f of fields) {
    // Only keys that appear in JSON exactly as their bytes (no escapes needed) and plain paths.
    if (f.includes('.') || !/^[\x20-\x7e]+$/.test(f) || /["\\]/.test(f)) return undefined
    keys.push(Buffer.from(f, 'latin1'))
  }
  const n = keys.length
  const seen = new Uint32Array(n)
  let generation = 0

  /** The field a key [start, end) names, or -1. Tries `hint` (the next field in order) first. */
  const fieldOf = (b: Uint8Array, start: number, end: number, hint: number): number => {
    const len = end - start
    for (let k = 0; k < n; k++) {
      const j = hint + k < n ? hint + k : hint + k - n
      const key = keys[j]!
      if (key.length !== len) continue
      let i = 0
      while (i < len && key[i] === b[start + i]) i++
      if (i === len) return j
    }
    return -1
  }

  return (b, out, offset) => {
    const end = b.length
    let p = 0
    let found = 0
    let hint = 0
    // Per-call marks without clearing: a new generation number each call.
    generation = (generation + 1) >>> 0
    if (generation === 0) {
      seen.fill(0)
      generation = 1
    }
    for (let k = 0; k < n; k++) out[offset + k] = Number.NaN
    p = skipWs(b, p)
    if (b[p] !== 0x7b) return -1
    p++
    p = skipWs(b, p)
    if (b[p] === 0x7d) {
      p++
    } else {
      for (;;) {
        if (b[p] !== 0x22) return -1
        const keyStart = p + 1
        p = skipString(b, p)
        if (p < 0) return -1
        const field = fieldOf(b, keyStart, p - 1, hint)
        p = skipWs(b, p)
        if (b[p] !== 0x3a) return -1
        p++
        p = skipWs(b, p)
        const c = b[p]
        if (c === 0x2d || (c !== undefined && c >= 0x30 && c <= 0x39)) {
          // number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
          let negative = false
          if (c === 0x2d) {
            negative = true
            p++
          }
          let m = 0
          let scale = 0
          let d = b[p]
          if (d === 0x30) {
            p++
            d = b[p]
          } else if (d !== undefined && d >= 0x31 && d <= 0x39) {
            do {
              m = m * 10 + (d - 0x30)
              p++
              d = b[p]
            } while (d !== undefined && d >= 0x30 && d <= 0x39)
          } else return -1
          if (d === 0x2e) {
            p++
            d = b[p]
            if (d === undefined || d < 0x30 || d > 0x39) return -1
            do {
              m = m * 10 + (d - 0x30)
              scale--
              p++
              d = b[p]
            } while (d !== undefined && d >= 0x30 && d <= 0x39)
          }
          if (d === 0x65 || d === 0x45) {
            p++
            d = b[p]
            let expNegative = false
            if (d === 0x2b || d === 0x2d) {
              expNegative = d === 0x2d
              p++
              d = b[p]
            }
            if (d === undefined || d < 0x30 || d > 0x39) return -1
            let e = 0
            do {
              if (e < 10_000) e = e * 10 + (d - 0x30)
              p++
              d = b[p]
            } while (d !== undefined && d >= 0x30 && d <= 0x39)
            scale += expNegative ? -e : e
          }
          if (field >= 0) {
            // m is exact only below 2^53 (more digits may have been rounded while accumulating).
            if (m >= kMaxMantissa || scale > 22 || scale < -22) return -1
            let v = scale >= 0 ? m * kPow10[scale]! : m / kPow10[-scale]!
            if (negative) v = -v
            out[offset + field] = v
            if (seen[field] !== generation) {
              seen[field] = generation
              found++
            }
            hint = field + 1 === n ? 0 : field + 1
          }
        } else if (field >= 0) {
          return -1 // a declared field that is not a number: JSON.parse says what it is
        } else if (c === 0x22) {
          p = skipString(b, p)
          if (p < 0) return -1
        } else if (c === 0x74 && b[p + 1] === 0x72 && b[p + 2] === 0x75 && b[p + 3] === 0x65) {
          p += 4
        } else if (
          c === 0x66 &&
          b[p + 1] === 0x61 &&
          b[p + 2] === 0x6c &&
          b[p + 3] === 0x73 &&
          b[p + 4] === 0x65
        ) {
          p += 5
        } else if (c === 0x6e && b[p + 1] === 0x75 && b[p + 2] === 0x6c && b[p + 3] === 0x6c) {
          p += 4
        } else {
          return -1 // objects, arrays, invalid
        }
        p = skipWs(b, p)
        if (b[p] === 0x2c) {
          p++
          p = skipWs(b, p)
          continue
        }
        if (b[p] !== 0x7d) return -1
        p++
        break
      }
    }
    p = skipWs(b, p)
    return p === end ? found : -1
  }
}
