import test from 'ava'
import { CredentialStore, type HelloInput, hashToken } from '../src/internal.ts'
import { VECTOR } from './_helpers.ts'

const TOKEN = 'mi_s3cr3t-token-for-tests-only-aaaaaaaaaaaaaaaa'
const FLEET_TOKEN = 'mi_fleet-token-for-tests-only-bbbbbbbbbbbbbbbbb'
const NOW = Date.parse('2026-06-01T00:00:00Z')

const fileText = `
version: 1
modules:
  - id: s1
    module: sensor-1
    hmacKey: ${VECTOR.moduleKey}
    scopes: [write:telemetry.*]
  - id: tok
    module: gateway-1
    tokenHash: ${hashToken(TOKEN)}
    scopes: [write:*]
  - id: both
    module: both-1
    tokenHash: ${hashToken(TOKEN)}
    hmacKey: ${VECTOR.moduleKey}
  - id: old
    module: old-1
    tokenHash: ${hashToken(TOKEN)}
    expiresAt: 2026-01-01T00:00:00Z
  - id: off
    module: off-1
    tokenHash: ${hashToken(TOKEN)}
    disabled: true
  - id: fp
    module: fp-1
    tokenHash: ${hashToken(TOKEN)}
    fingerprint: AA:BB:CC:DD:EE:FF
  - id: strict
    module: sensor-1-strict
    hmacKey: ${VECTOR.moduleKey}
    requireMac: true
  - id: fleet
    module: fleet-*
    tokenHash: ${hashToken(FLEET_TOKEN)}
    scopes: [write:fleet.*]
  - id: fleet-7
    module: fleet-7
    tokenHash: ${hashToken(TOKEN)}
    disabled: true
`

const store = CredentialStore.fromText(fileText, { now: () => NOW })
const ctx = { nonce: VECTOR.nonce }
const hmacHello = (over: Partial<HelloInput> = {}): HelloInput => ({
  module: 'sensor-1',
  method: 'hmac',
  cnonce: VECTOR.cnonce,
  proof: VECTOR.proof,
  ...over,
})

test('hmac: the PROTOCOL.md test vector authenticates and derives the session key', (t) => {
  const r = store.verifyHello(hmacHello({ mac: true, core: 'core-0' }), ctx)
  if (!r.ok) return t.fail(r.reason)
  t.is(r.identity.module, 'sensor-1')
  t.is(r.identity.core, 'core-0')
  t.true(r.identity.mac)
  t.deepEqual(Buffer.from(r.identity.sessionKey!), VECTOR.sessionKey)
  t.deepEqual(r.identity.scopes, ['write:telemetry.*'])
  t.is(r.identity.credentialId, 's1')
  t.is(r.identity.method, 'hmac')
})

test('hmac without mac: no session key, core defaults to empty', (t) => {
  const r = store.verifyHello(hmacHello(), ctx)
  if (!r.ok) return t.fail(r.reason)
  t.false(r.identity.mac)
  t.is(r.identity.sessionKey, undefined)
  t.is(r.identity.core, '')
})

test('hmac: wrong proof, wrong nonce, missing or short cnonce/proof are bad-secret', (t) => {
  const bad = Buffer.from(VECTOR.proof)
  bad[0]! ^= 1
  t.like(store.verifyHello(hmacHello({ proof: bad }), ctx), { ok: false, reason: 'bad-secret' })
  t.like(store.verifyHello(hmacHello(), { nonce: new Uint8Array(16) }), { ok: false, reason: 'bad-secret' })
  t.like(store.verifyHello(hmacHello({ cnonce: undefined }), ctx), { ok: false, reason: 'bad-secret' })
  t.like(store.verifyHello(hmacHello({ proof: VECTOR.proof.subarray(0, 16) }), ctx), {
    ok: false,
    reason: 'bad-secret',
  })
  t.like(store.verifyHello(hmacHello({ proof: 'f65720e7' }), ctx), { ok: false, reason: 'bad-secret' })
  // The proof binds the module name: sensor-1's proof does not admit the same key under another name.
  t.like(store.verifyHello(hmacHello({ module: 'sensor-1-strict', mac: true }), ctx), {
    ok: false,
    reason: 'bad-secret',
  })
})

test('token: ok, mac requested is answered mac:false', (t) => {
  const r = store.verifyHello({ module: 'gateway-1', method: 'token', token: TOKEN, mac: true }, ctx)
  if (!r.ok) return t.fail(r.reason)
  t.false(r.identity.mac)
  t.is(r.identity.sessionKey, undefined)
  t.is(r.identity.method, 'token')
  t.deepEqual(r.identity.scopes, ['write:*'])
})

test('token: wrong, missing, non-string and oversized tokens are bad-secret', (t) => {
  for (const token of [`${TOKEN}x`, undefined, 42, new Uint8Array(4), 'x'.repeat(10_000), '']) {
    t.like(store.verifyHello({ module: 'gateway-1', method: 'token', token }, ctx), {
      ok: false,
      reason: 'bad-secret',
    })
  }
})

test('an entry with both secrets accepts either method', (t) => {
  t.true(store.verifyHello({ module: 'both-1', method: 'token', token: TOKEN }, ctx).ok)
  // proof for both-1 with the vector key is a different proof; compute it with the store's maths
  t.like(store.verifyHello(hmacHello({ module: 'both-1' }), ctx), { ok: false, reason: 'bad-secret' })
})

test('method the credential does not hold, or an unknown method', (t) => {
  t.like(
    store.verifyHello(
      { module: 'gateway-1', method: 'hmac', cnonce: VECTOR.cnonce, proof: VECTOR.proof },
      ctx,
    ),
    {
      ok: false,
      reason: 'method',
    },
  )
  t.like(store.verifyHello({ module: 'sensor-1', method: 'token', token: TOKEN }, ctx), {
    ok: false,
    reason: 'method',
  })
  t.like(store.verifyHello({ module: 'sensor-1', method: 'password', token: TOKEN }, ctx), {
    ok: false,
    reason: 'method',
  })
  t.like(store.verifyHello({ module: 'sensor-1' }, ctx), { ok: false, reason: 'method' })
})

test('unknown module', (t) => {
  t.like(store.verifyHello({ module: 'nobody', method: 'token', token: TOKEN }, ctx), {
    ok: false,
    reason: 'unknown-module',
  })
  t.like(store.verifyHello(hmacHello({ module: 'nobody' }), ctx), { ok: false, reason: 'unknown-module' })
})

test('expired and disabled only after the secret checked out', (t) => {
  t.like(store.verifyHello({ module: 'old-1', method: 'token', token: TOKEN }, ctx), {
    ok: false,
    reason: 'expired',
  })
  t.like(store.verifyHello({ module: 'off-1', method: 'token', token: TOKEN }, ctx), {
    ok: false,
    reason: 'disabled',
  })
  t.like(store.verifyHello({ module: 'off-1', method: 'token', token: 'mi_wrong' }, ctx), {
    ok: false,
    reason: 'bad-secret',
  })
  const later = CredentialStore.fromText(fileText, { now: () => Date.parse('2025-12-31T23:59:59Z') })
  t.true(later.verifyHello({ module: 'old-1', method: 'token', token: TOKEN }, ctx).ok)
})

test('fingerprint: required when registered, compared case-insensitively', (t) => {
  const base = { module: 'fp-1', method: 'token', token: TOKEN }
  t.true(store.verifyHello({ ...base, fingerprint: 'aa:bb:cc:dd:ee:ff' }, ctx).ok)
  t.true(store.verifyHello({ ...base, fingerprint: 'AA:BB:CC:DD:EE:FF' }, ctx).ok)
  t.like(store.verifyHello({ ...base, fingerprint: 'aa:bb:cc:dd:ee:00' }, ctx), {
    ok: false,
    reason: 'fingerprint',
  })
  t.like(store.verifyHello(base, ctx), { ok: false, reason: 'fingerprint' })
  t.like(store.verifyHello({ ...base, fingerprint: 7 }, ctx), { ok: false, reason: 'fingerprint' })
  // A module registered without one ignores it.
  t.true(store.verifyHello({ module: 'gateway-1', method: 'token', token: TOKEN, fingerprint: 'zz' }, ctx).ok)
})

test('requireMac: hmac with mac:true only', async (t) => {
  const { hmacProof } = await import('../src/internal.ts')
  const proof = hmacProof(
    Buffer.from(VECTOR.moduleKey, 'hex'),
    VECTOR.nonce,
    VECTOR.cnonce,
    'sensor-1-strict',
  )
  const hello = hmacHello({ module: 'sensor-1-strict', proof })
  t.like(store.verifyHello(hello, ctx), { ok: false, reason: 'mac-required' })
  t.like(store.verifyHello({ ...hello, mac: 'yes' }, ctx), { ok: false, reason: 'mac-required' })
  const r = store.verifyHello({ ...hello, mac: true }, ctx)
  t.true(r.ok && r.identity.mac && r.identity.sessionKey?.byteLength === 32)
})

test('pattern credentials admit a fleet; an exact entry overrides its pattern', (t) => {
  const r = store.verifyHello({ module: 'fleet-42', method: 'token', token: FLEET_TOKEN }, ctx)
  if (!r.ok) return t.fail(r.reason)
  t.is(r.identity.module, 'fleet-42')
  t.is(r.identity.credentialId, 'fleet')
  t.deepEqual(r.identity.scopes, ['write:fleet.*'])
  t.like(store.verifyHello({ module: 'fleet-', method: 'token', token: FLEET_TOKEN }, ctx), { ok: true })
  t.like(store.verifyHello({ module: 'fleet-7', method: 'token', token: FLEET_TOKEN }, ctx), {
    ok: false,
    reason: 'bad-secret',
  })
  t.like(store.verifyHello({ module: 'fleet-7', method: 'token', token: TOKEN }, ctx), {
    ok: false,
    reason: 'disabled',
  })
  t.like(store.verifyHello({ module: 'xfleet-1', method: 'token', token: FLEET_TOKEN }, ctx), {
    ok: false,
    reason: 'unknown-module',
  })
})

test('malformed module and core names are bad-name', (t) => {
  for (const module of ['', 'a b', 'x'.repeat(129), 'ünï', 'sensor/1', 'fleet-*', 42, null, undefined]) {
    t.like(store.verifyHello({ module, method: 'token', token: FLEET_TOKEN }, ctx), {
      ok: false,
      reason: 'bad-name',
    })
  }
  for (const core of ['', 'a b', 'x'.repeat(129), 7]) {
    t.like(store.verifyHello({ module: 'gateway-1', core, method: 'token', token: TOKEN }, ctx), {
      ok: false,
      reason: 'bad-name',
    })
  }
  t.like(store.verifyHello(null, ctx), { ok: false, reason: 'bad-name' })
  t.true(
    store.verifyHello(
      { module: 'x'.repeat(128).replace(/^x{6}/, 'fleet-'), method: 'token', token: FLEET_TOKEN },
      ctx,
    ).ok,
  )
})

test('tlsIdentity must name the HELLO module', (t) => {
  const hello = { module: 'gateway-1', method: 'token', token: TOKEN }
  t.true(store.verifyHello(hello, { ...ctx, tlsIdentity: 'gateway-1' }).ok)
  t.like(store.verifyHello(hello, { ...ctx, tlsIdentity: 'gateway-2' }), {
    ok: false,
    reason: 'tls-identity',
  })
})

test('a nonce that is not 16 bytes is a programming error', (t) => {
  t.throws(() => store.verifyHello(hmacHello(), { nonce: new Uint8Array(8) }), {
    code: 'MI_ERR_AUTH_OPTION_INVALID',
  })
})

test('failures carry the credential id for audit, never secrets', (t) => {
  const r = store.verifyHello({ module: 'gateway-1', method: 'token', token: 'nope' }, ctx)
  t.deepEqual(r, { ok: false, reason: 'bad-secret', credentialId: 'tok' })
})

test('a HELLO as @module-ingest/protocol decodes it from the wire verifies', async (t) => {
  const { decodeHello, encodeBody } = await import('@module-ingest/protocol')
  const payload = encodeBody({
    module: 'sensor-1',
    method: 'hmac',
    cnonce: VECTOR.cnonce,
    proof: VECTOR.proof,
    mac: true,
    client: 'test/1',
  })
  const r = store.verifyHello(decodeHello(payload), ctx)
  if (!r.ok) return t.fail(r.reason)
  t.deepEqual(Buffer.from(r.identity.sessionKey!), VECTOR.sessionKey)
})
