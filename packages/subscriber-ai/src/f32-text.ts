/**
 * A float32 as JSON text: the shortest decimal that rounds back to the same float32 (at most 9
 * significant digits), as numpy and ONNX tooling print float32. `${x}` of the widened double
 * prints up to 17 digits (0.1f is 0.10000000149011612) and costs ~180 ns in V8; this is a few
 * integer steps and an int-to-string. The text is in JavaScript's own number format (the same
 * exponent rules), so `String(Number(text)) === text`. NaN and ±Infinity are `null`, as in JSON.
 */

// 10^0 … 10^22 are exact doubles: m / 10^k and m * 10^k of an integer m < 2^53 are then one
// correctly rounded operation, i.e. the same double a JSON parser gives for the text "m e-k".
const kPow10: number[] = []
for (let i = 0, p = 1; i <= 22; i++, p *= 10) kPow10.push(p)
const kNeg = kPow10.map((p) => 1 / p)

export function f32Text(x: number): string {
  if (x === 0) return '0' // also -0, which JSON.stringify prints as 0
  if (!Number.isFinite(x)) return 'null'
  const a = Math.abs(x)
  // Outside [1e-13, 1e15) the scale 10^k below would leave the exact range: the slow path.
  if (a < 1e-13 || a >= 1e15) return slowText(x)
  // Decimal exponent of the leading digit, by comparisons (Math.log10 costs more than the
  // search below). kNeg's powers are inexact; off by one is harmless (m just gets one more
  // digit, which the search tolerates).
  let e = 0
  if (a >= 1) while (a >= kPow10[e + 1]!) e++
  else {
    e = -1
    while (a < kNeg[-e]!) e--
  }
  // More digits never round-trip worse than fewer (the nearest p+1-digit decimal is at least as
  // close as the nearest p-digit one), so binary-search p in 1…9 for the shortest that does.
  let lo = 1
  let hi = 9
  let bestM = 0
  let bestK = 0
  while (lo <= hi) {
    const p = (lo + hi) >> 1
    // a ≈ m × 10^-k with m of p digits.
    const k = p - 1 - e // within ±22 for a in [1e-13, 1e15)
    const m = k >= 0 ? Math.round(a * kPow10[k]!) : Math.round(a / kPow10[-k]!)
    const back = k >= 0 ? m / kPow10[k]! : m * kPow10[-k]!
    if (Math.fround(back) === a) {
      bestM = m
      bestK = k
      hi = p - 1
    } else lo = p + 1
  }
  if (bestM === 0) return slowText(x) // no p ≤ 9 found: not a float32 (or m rounded badly)
  return format(x < 0, bestM, bestK)
}

// '000' … '999': digits are cut from these instead of `${int}` (a runtime call on V8's
// number-string cache miss, ~70 ns, which distinct outputs always are).
const k3: string[] = []
for (let i = 0; i < 1000; i++) k3.push(`${i}`.padStart(3, '0'))

/** v (below 10^w) as exactly w digits, zero-padded. */
function padded(v: number, w: number): string {
  if (w <= 3) return k3[v]!.slice(3 - w)
  const hi = Math.floor(v / 1000)
  return padded(hi, w - 3) + k3[v - hi * 1000]!
}

/** m × 10^-k (m > 0 an integer below 2^53) in Number::toString's layout. */
function format(negative: boolean, m: number, k: number): string {
  while (m % 10 === 0) {
    m /= 10
    k--
  }
  let len = 1
  while (m >= kPow10[len]!) len++
  const n = len - k // the decimal point sits after n digits
  let s: string
  if (k <= 0 && n <= 21) s = padded(m, len) + '0'.repeat(-k)
  else if (n > 0 && n <= 21) {
    const int = Math.floor(m / kPow10[k]!)
    s = `${padded(int, n)}.${padded(m - int * kPow10[k]!, k)}`
  } else if (n > -6 && n <= 0) s = `0.${padded(m, k)}`
  else {
    const exp = n - 1
    const lead = Math.floor(m / kPow10[len - 1]!)
    const mant =
      len === 1 ? k3[lead]!.slice(2) : `${k3[lead]!.slice(2)}.${padded(m - lead * kPow10[len - 1]!, len - 1)}`
    s = `${mant}e${exp < 0 ? '-' : '+'}${Math.abs(exp)}`
  }
  return negative ? `-${s}` : s
}

/** Exponents outside ±22 (float32 subnormals, values past 1e22): toPrecision, then JS's layout. */
function slowText(x: number): string {
  for (let p = 1; p < 17; p++) {
    const d = Number(x.toPrecision(p))
    if (Math.fround(d) === x) return `${d}`
  }
  return `${x}`
}
