// crc32Combine: the CRC-32 of A‖B from crc(A), crc(B) and |B|, as zlib's crc32_combine (multiply
// crc(A) by x^(8|B|) modulo the polynomial, in GF(2), then add crc(B)): O(log |B|), no data read.

const kPoly = 0xedb88320
/** a · b modulo the CRC polynomial (bit-reflected, as the CRC itself). */
function multModP(a: number, b: number): number {
  let m = 0x80000000
  let p = 0
  for (;;) {
    if ((a & m) !== 0) {
      p ^= b
      if ((a & (m - 1)) === 0) break
    }
    m >>>= 1
    b = b & 1 ? (b >>> 1) ^ kPoly : b >>> 1
  }
  return p >>> 0
}
/** kX2n[k] = x^(2^k) modulo the polynomial. */
const kX2n = new Uint32Array(32)
{
  let p = 0x40000000 // x^1
  kX2n[0] = p
  for (let k = 1; k < 32; k++) kX2n[k] = p = multModP(p, p)
}

export function crc32Combine(crcA: number, crcB: number, lenB: number): number {
  // x^(8·lenB): the bits of lenB pick powers x^(2^k), starting at k = 3 (8 = 2^3).
  let p = 0x80000000 // x^0
  let k = 3
  for (let n = lenB; n > 0; n = Math.floor(n / 2), k++) if (n % 2 === 1) p = multModP(kX2n[k & 31]!, p)
  return (multModP(p, crcA) ^ crcB) >>> 0
}
