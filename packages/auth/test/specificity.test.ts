// The most specific credential governs a module: a wildcard (`*`, the dev credential) never shadows
// a later `sensor-*`. `createToken` reports which entries the new one shadows or is shadowed by.
import { join } from 'node:path'
import test from 'ava'
import {
  CredentialStore,
  createToken,
  ensureDevCredential,
  hashToken,
  patternsOverlap,
} from '../src/internal.ts'
import { tempDir } from './_helpers.ts'

const NONCE = new Uint8Array(16)
const hello = (module: string, token: string) => ({ module, method: 'token' as const, token })

test('a later sensor-* authenticates while * (first in the file) is present', (t) => {
  const dev = 'mi_dev-token-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
  const fleet = 'mi_fleet-token-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'
  const store = CredentialStore.fromText(`
version: 1
modules:
  - { id: dev, module: "*", tokenHash: "${hashToken(dev)}", scopes: ["write:*"] }
  - { id: fleet, module: "sensor-*", tokenHash: "${hashToken(fleet)}", scopes: ["write:telemetry.*"] }
  - { id: one, module: "sensor-1*", tokenHash: "${hashToken(fleet)}", scopes: ["write:one.*"] }
`)
  const ok = store.verifyHello(hello('sensor-2', fleet), { nonce: NONCE })
  t.true(ok.ok, JSON.stringify(ok))
  if (ok.ok) t.is(ok.identity.credentialId, 'fleet')
  // The more specific entry governs: the wildcard's token no longer admits sensor-2.
  t.like(store.verifyHello(hello('sensor-2', dev), { nonce: NONCE }), { ok: false, credentialId: 'fleet' })
  // Other modules still use the wildcard.
  t.like(store.verifyHello(hello('pump-1', dev), { nonce: NONCE }), { ok: true })
  // More literal characters win again.
  t.is(store.describe('sensor-10')?.id, 'one')
})

test('patternsOverlap', (t) => {
  t.true(patternsOverlap('*', 'sensor-*'))
  t.true(patternsOverlap('sensor-*', '*-1'))
  t.true(patternsOverlap('a*c', 'ab*'))
  t.false(patternsOverlap('sensor-*', 'pump-*'))
  t.false(patternsOverlap('a*', 'b*'))
  t.true(patternsOverlap('sensor-1', 'sensor-*'))
  t.false(patternsOverlap('sensor-1', 'pump-*'))
})

test('createToken reports what the new credential shadows and what shadows it', async (t) => {
  const file = join(tempDir(t), 'credentials.yaml')
  await ensureDevCredential(file)
  const fleet = await createToken(file, { module: 'sensor-*', scopes: ['write:*'], kind: 'token' })
  t.deepEqual(fleet.overlaps, [{ id: 'dev', module: '*', relation: 'shadows' }])
  const wide = await createToken(file, { module: 's*', scopes: ['write:*'], kind: 'token', id: 'wide' })
  t.deepEqual(
    wide.overlaps.map((o) => [o.id, o.relation]),
    [
      ['dev', 'shadows'],
      [fleet.id, 'shadowed-by'],
    ],
  )
  const none = await createToken(file, { module: 'pump-1', scopes: ['write:*'], kind: 'token' })
  t.deepEqual(
    none.overlaps.map((o) => [o.id, o.relation]),
    [['dev', 'shadows']],
  )
})
