import { randomBytes } from 'node:crypto'
/**
 * The client's half of the MIP/1 handshake: the HELLO it answers WELCOME with (token, or hmac
 * proof over a fresh cnonce) and the key a MAC session runs under once HELLO_OK says so. Pure
 * given the options and the server's WELCOME; client.ts sequences the phases and keeps the state.
 */
import {
  ErrorCode,
  type Hello,
  hmacProof,
  ProtocolError,
  sessionKey,
  type Welcome,
} from '@module-ingest/protocol'
import type { ResolvedOptions } from './options.ts'

/** The HELLO for this WELCOME; an hmac HELLO carries the cnonce the session key is derived from. */
export function helloFor(o: ResolvedOptions, w: Welcome): Hello {
  const hello: Hello = {
    module: o.module,
    method: o.token !== undefined ? 'token' : 'hmac',
    client: o.clientName,
  }
  if (o.core !== undefined) hello.core = o.core
  if (o.fingerprint !== undefined) hello.fingerprint = o.fingerprint
  if (o.token !== undefined) {
    hello.token = o.token
  } else {
    const cnonce = randomBytes(16)
    hello.cnonce = cnonce
    hello.proof = hmacProof(o.hmacKey!, w.nonce, cnonce, o.module)
    hello.mac = o.mac
  }
  return hello
}

/** The per-frame MAC key of a session HELLO_OK granted MAC to. */
export function macKeyFor(hmacKey: Uint8Array | undefined, w: Welcome, cnonce: Uint8Array): Uint8Array {
  if (!hmacKey)
    throw new ProtocolError(ErrorCode.BAD_PAYLOAD, 'MAC session without an hmac key', undefined, {
      fatal: true,
    })
  return sessionKey(hmacKey, w.nonce, cnonce)
}
