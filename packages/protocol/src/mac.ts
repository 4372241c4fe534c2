import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { MAC_BYTES } from './constants.ts'

/**
 * Trailer maths. CRC-32 is zlib's (IEEE); the MAC is the first 16 bytes of
 * HMAC-SHA256(session_key, header ‖ payload). Both cover bytes 0 .. 20+L-1 of the frame.
 */

// Importing a raw key costs more than the HMAC of a small frame; keep one KeyObject per key array.
// Callers hold one session key per connection, so a WeakMap keyed by the array is enough.
const kKeys = new WeakMap<Uint8Array, KeyObject>()

function keyObject(key: Uint8Array): KeyObject {
  let k = kKeys.get(key)
  if (k === undefined) {
    k = createSecretKey(key)
    kKeys.set(key, k)
  }
  return k
}

export function frameCrc(bytes: Uint8Array): number {
  return crc32(bytes)
}

/** Full 32-byte HMAC-SHA256 over the given parts. */
export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('sha256', keyObject(key))
  for (const p of parts) h.update(p)
  return h.digest()
}

/** The 16-byte frame MAC over `bytes` (header ‖ payload). */
export function frameMac(key: Uint8Array, bytes: Uint8Array): Buffer {
  return hmacSha256(key, bytes).subarray(0, MAC_BYTES)
}

/** Constant-time check of a 16-byte MAC trailer. */
export function verifyMac(key: Uint8Array, bytes: Uint8Array, mac: Uint8Array): boolean {
  if (mac.byteLength !== MAC_BYTES) return false
  return timingSafeEqual(frameMac(key, bytes), mac)
}

const kUtf8 = new TextEncoder()
const kSessionLabel = kUtf8.encode('mip1-session')

/** `proof = HMAC-SHA256(module_key, nonce ‖ cnonce ‖ utf8(module))`, 32 bytes. */
export function hmacProof(
  moduleKey: Uint8Array,
  nonce: Uint8Array,
  cnonce: Uint8Array,
  module: string,
): Buffer {
  return hmacSha256(moduleKey, nonce, cnonce, kUtf8.encode(module))
}

/** `session_key = HMAC-SHA256(module_key, "mip1-session" ‖ nonce ‖ cnonce)`, 32 bytes. */
export function sessionKey(moduleKey: Uint8Array, nonce: Uint8Array, cnonce: Uint8Array): Buffer {
  return hmacSha256(moduleKey, kSessionLabel, nonce, cnonce)
}

/** Constant-time comparison for proofs; false when lengths differ. */
export function proofEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b)
}
