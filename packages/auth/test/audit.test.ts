import test from 'ava'
import { auditEvent, auditHello, CredentialStore, hashToken } from '../src/internal.ts'

const TOKEN = 'mi_secret-secret-secret-secret-secret-secret-sec'
const store = CredentialStore.fromText(
  `modules:\n  - id: g\n    module: g-1\n    tokenHash: ${hashToken(TOKEN)}\n`,
)
const nonce = new Uint8Array(16)

test('AuthSucceeded / AuthFailed carry who and why, never the secret', (t) => {
  const hello = { module: 'g-1', method: 'token', token: TOKEN, client: 'sdk/1.0', fingerprint: 'FP' }
  const ok = auditHello(store.verifyHello(hello, { nonce }), hello, { remoteAddress: '10.0.0.1' })
  t.deepEqual(ok, {
    event: 'AuthSucceeded',
    module: 'g-1',
    method: 'token',
    client: 'sdk/1.0',
    remoteAddress: '10.0.0.1',
    credentialId: 'g',
  })
  const badHello = { ...hello, token: `${TOKEN}!` }
  const bad = auditHello(store.verifyHello(badHello, { nonce }), badHello, { remoteAddress: '10.0.0.1' })
  t.like(bad, { event: 'AuthFailed', reason: 'bad-secret', credentialId: 'g' })
  const json = JSON.stringify([ok, bad])
  t.false(json.includes('secret-secret'))
  t.false(json.includes('FP'))
})

test('attacker-chosen text is capped and stripped of control characters', (t) => {
  const e = auditEvent('AuthFailed', {
    module: `a\nb\u0000${'x'.repeat(500)}`,
    reason: 'bad-name',
    token: 'x',
  } as never)
  t.is(e.module?.length, 129)
  t.true(e.module?.startsWith('a?b?x'))
  t.false('token' in e)
  t.deepEqual(auditEvent('HandshakeThrottled', { remoteAddress: '1.2.3.4', retryAfterMs: 12.2 }), {
    event: 'HandshakeThrottled',
    remoteAddress: '1.2.3.4',
    retryAfterMs: 13,
  })
  t.deepEqual(auditEvent('CredentialRevoked', { credentialId: 'c_1', module: 'm', reason: 'cli' }), {
    event: 'CredentialRevoked',
    module: 'm',
    reason: 'cli',
    credentialId: 'c_1',
  })
  t.deepEqual(auditEvent('AuthFailed', { module: 42, remoteAddress: {} }), { event: 'AuthFailed' })
})
