// One varint reader over a plain (buffer, offset) for the hot loops of entry.ts and packed.ts:
// the end position is left in `varintEnd.end` (no allocation per record), and a truncated or
// over-long varint gives kBadVarint, which fails every bounds check a caller makes after it.
// (format.ts's Reader has its own: it reads through a cursor object.)

export const kBadVarint = Number.MAX_SAFE_INTEGER
export const varintEnd = { end: 0 }

export function varintAt(b: Uint8Array, p: number): number {
  let result = 0
  let mul = 1
  for (let i = 0; i < 8; i++) {
    if (p >= b.length) return kBadVarint
    const byte = b[p++]!
    result += (byte & 0x7f) * mul
    if (byte < 0x80) {
      varintEnd.end = p
      return result
    }
    mul *= 0x80
  }
  varintEnd.end = p
  return kBadVarint
}
