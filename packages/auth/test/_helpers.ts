import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ExecutionContext } from 'ava'

/** A fresh temp dir removed after the test. */
export function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mi-auth-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')

// PROTOCOL.md "Test vectors", HMAC handshake for module sensor-1.
export const VECTOR = {
  moduleKey: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
  nonce: hex('a0a1a2a3a4a5a6a7a8a9aaabacadaeaf'),
  cnonce: hex('b0b1b2b3b4b5b6b7b8b9babbbcbdbebf'),
  proof: hex('f65720e774dcacbcaa844c83f08ebc2fd3073498024c8f3d059535c3a7032caa'),
  sessionKey: hex('675b25b8686648faea7c564c8fb67396c9991a0b6e1b32fcaba0097d921fc929'),
} as const
