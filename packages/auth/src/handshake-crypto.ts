// MIP/1 handshake maths (PROTOCOL.md "Handshake"). @module-ingest/protocol has the same functions
// in src/mac.ts but no public entry yet; re-export from it once it does.
import { createHmac } from 'node:crypto'

const kUtf8 = new TextEncoder()
const kSessionLabel = kUtf8.encode('mip1-session')

/** `proof = HMAC-SHA256(module_key, nonce ‖ cnonce ‖ utf8(module))` */
export function hmacProof(
  moduleKey: Uint8Array,
  nonce: Uint8Array,
  cnonce: Uint8Array,
  module: string,
): Buffer {
  return createHmac('sha256', moduleKey).update(nonce).update(cnonce).update(kUtf8.encode(module)).digest()
}

/** `session_key = HMAC-SHA256(module_key, "mip1-session" ‖ nonce ‖ cnonce)` */
export function sessionKey(moduleKey: Uint8Array, nonce: Uint8Array, cnonce: Uint8Array): Buffer {
  return createHmac('sha256', moduleKey).update(kSessionLabel).update(nonce).update(cnonce).digest()
}
