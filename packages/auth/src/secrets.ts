import {
  createHash,
  createHmac,
  createSecretKey,
  type KeyObject,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto'

/**
 * Secret material.
 *
 * Bearer tokens are stored as `hmac-sha256$<salt>$<digest>`: HMAC-SHA256 keyed by a 16-byte
 * per-entry salt, both base64url. Why not scrypt/argon2: every token this package issues is 32
 * random bytes (256 bits), so a leaked hash cannot be brute-forced whatever the hash speed, while a
 * slow KDF would cost each parser worker tens of milliseconds of CPU per HELLO — a cheap handshake
 * flood would become a CPU exhaustion attack. The per-entry salt stops cross-entry and
 * precomputed-table matching. A server pepper was not added: the same file must hold HMAC keys in
 * the clear anyway (the server needs them to verify proofs), so it is secret material as a whole
 * (mode 0600), and a pepper would only move the problem. Hand-chosen low-entropy tokens are NOT
 * supported: generate tokens with `createToken`.
 */
export const TOKEN_PREFIX = 'mi_'
export const OPERATOR_TOKEN_PREFIX = 'miop_'
export const TOKEN_HASH_RE = /^hmac-sha256\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/
/** Hex (even length, 16..64 bytes) or `base64:<standard or url-safe base64>`. */
export const HMAC_KEY_RE = /^(?:(?:[0-9a-fA-F]{2}){16,64}|base64:[A-Za-z0-9+/_-]{22,88}={0,2})$/
/** Longer bearer tokens are rejected before hashing: a HELLO field must not buy unbounded CPU. */
export const MAX_TOKEN_CHARS = 512

export interface TokenDigest {
  /** The salt as an imported HMAC key: importing a raw key costs more than the HMAC itself. */
  readonly key: KeyObject
  readonly digest: Buffer
}

export function generateToken(prefix = TOKEN_PREFIX): string {
  return prefix + randomBytes(32).toString('base64url')
}

export function generateHmacKey(): string {
  return randomBytes(32).toString('hex')
}

export function hashToken(token: string): string {
  const salt = randomBytes(16)
  const digest = createHmac('sha256', salt).update(token, 'utf8').digest()
  return `hmac-sha256$${salt.toString('base64url')}$${digest.toString('base64url')}`
}

export function parseTokenHash(stored: string): TokenDigest {
  const [, salt = '', digest = ''] = stored.split('$')
  return { key: createSecretKey(Buffer.from(salt, 'base64url')), digest: Buffer.from(digest, 'base64url') }
}

/** Constant time for a given stored digest; always does one HMAC, whatever the input. */
export function tokenMatches(token: string, stored: TokenDigest): boolean {
  const actual = createHmac('sha256', stored.key).update(token, 'utf8').digest()
  return timingSafeEqual(actual, stored.digest)
}

export function parseHmacKey(text: string): Buffer {
  return text.startsWith('base64:') ? Buffer.from(text.slice(7), 'base64') : Buffer.from(text, 'hex')
}

/**
 * Fingerprints are compared case-insensitively and in constant time: both sides are lower-cased
 * and hashed to 32 bytes, so neither content nor length leaks through timing.
 */
export function fingerprintDigest(fingerprint: string): Buffer {
  return createHash('sha256').update(fingerprint.toLowerCase(), 'utf8').digest()
}

export function fingerprintMatches(presented: unknown, expected: Buffer): boolean {
  const actual = fingerprintDigest(typeof presented === 'string' ? presented.slice(0, 1024) : '')
  return timingSafeEqual(actual, expected) && typeof presented === 'string'
}

/** Stand-ins used when the module is unknown, so an unknown module costs what a wrong secret costs. */
export const DUMMY_TOKEN_DIGEST: TokenDigest = parseTokenHash(hashToken(generateToken()))
export const DUMMY_HMAC_KEY: Buffer = randomBytes(32)
