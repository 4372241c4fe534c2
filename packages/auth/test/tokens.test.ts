import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import {
  CredentialStore,
  createOperator,
  createToken,
  ensureDevCredential,
  hmacProof,
  listCredentials,
  listOperators,
  revoke,
  revokeOperator,
  rotate,
  withFileLock,
  writeFileAtomic,
} from '../src/internal.ts'
import { tempDir } from './_helpers.ts'

const nonce = new Uint8Array(16).fill(7)
const cnonce = new Uint8Array(16).fill(9)
const mode = (f: string) => statSync(f).mode & 0o777

test('createToken (token): secret shown once, only its hash stored, file 0600', async (t) => {
  const file = join(tempDir(t), 'creds.yaml')
  const created = await createToken(file, {
    module: 'sensor-1',
    scopes: ['write:telemetry.*'],
    kind: 'token',
  })
  t.regex(created.secret, /^mi_[A-Za-z0-9_-]{43}$/)
  t.regex(created.id, /^c_[0-9a-f]{12}$/)
  const text = readFileSync(file, 'utf8')
  t.false(text.includes(created.secret))
  t.false(text.includes(created.secret.slice(3)))
  t.regex(text, /tokenHash: hmac-sha256\$/)
  t.is(mode(file), 0o600)

  const store = await CredentialStore.load(file)
  const r = store.verifyHello({ module: 'sensor-1', method: 'token', token: created.secret }, { nonce })
  t.true(r.ok)
  t.like(store.verifyHello({ module: 'sensor-1', method: 'token', token: `${created.secret}x` }, { nonce }), {
    ok: false,
  })
})

test('createToken (hmac): key returned once and stored retrievably; proofs verify', async (t) => {
  const file = join(tempDir(t), 'creds.yaml')
  const c = await createToken(file, {
    module: 'sensor-*',
    scopes: ['write:*'],
    kind: 'hmac',
    fingerprint: 'AB:CD',
    expiresAt: new Date('2099-01-01T00:00:00Z'),
    requireMac: true,
  })
  t.regex(c.secret, /^[0-9a-f]{64}$/)
  const store = await CredentialStore.load(file)
  const proof = hmacProof(Buffer.from(c.secret, 'hex'), nonce, cnonce, 'sensor-9')
  const r = store.verifyHello(
    { module: 'sensor-9', method: 'hmac', cnonce, proof, mac: true, fingerprint: 'ab:cd' },
    { nonce },
  )
  t.true(r.ok && r.identity.mac)
  const [summary] = await listCredentials(file)
  t.like(summary, {
    id: c.id,
    module: 'sensor-*',
    kinds: ['hmac'],
    fingerprint: 'AB:CD',
    expiresAt: '2099-01-01T00:00:00.000Z',
    expired: false,
    requireMac: true,
    disabled: false,
  })
})

test('listCredentials never returns secrets; revoke and rotate by id or module', async (t) => {
  const file = join(tempDir(t), 'creds.yaml')
  const a = await createToken(file, { module: 'a', scopes: ['write:*'], kind: 'token' })
  const b = await createToken(file, { module: 'b', scopes: ['read:*'], kind: 'hmac', id: 'bee' })
  await t.throwsAsync(createToken(file, { module: 'a', scopes: [], kind: 'hmac' }), {
    code: 'MI_ERR_AUTH_CREDENTIAL_EXISTS',
  })
  await t.throwsAsync(createToken(file, { module: 'a b', scopes: [], kind: 'hmac' }), {
    code: 'MI_ERR_AUTH_OPTION_INVALID',
  })
  await t.throwsAsync(createToken(file, { module: 'c', scopes: ['write'], kind: 'hmac' }), {
    code: 'MI_ERR_AUTH_OPTION_INVALID',
  })

  const list = await listCredentials(file)
  t.deepEqual(
    list.map((c) => [c.id, c.module, c.kinds]),
    [
      [a.id, 'a', ['token']],
      ['bee', 'b', ['hmac']],
    ],
  )
  const listed = JSON.stringify(list)
  t.false(listed.includes(b.secret))
  t.false(listed.includes('hmac-sha256$'))

  // Rotate: new secret works, the old one no longer does; live sessions see 'changed'.
  const store = await CredentialStore.load(file)
  const before = store.verifyHello({ module: 'a', method: 'token', token: a.secret }, { nonce })
  if (!before.ok) return t.fail()
  const rotated = await rotate(file, 'a')
  t.is(rotated.id, a.id)
  t.regex(rotated.token ?? '', /^mi_/)
  t.is(rotated.hmacKey, undefined)
  await store.reload()
  t.like(store.verifyHello({ module: 'a', method: 'token', token: a.secret }, { nonce }), {
    ok: false,
    reason: 'bad-secret',
  })
  t.true(store.verifyHello({ module: 'a', method: 'token', token: rotated.token }, { nonce }).ok)
  t.is(store.isRevokedOrChanged(before.identity), 'changed')
  t.truthy((await listCredentials(file))[0]?.rotatedAt)

  // Revoke by id; the key material leaves the file.
  const removed = await revoke(file, 'bee')
  t.is(removed.module, 'b')
  t.false(readFileSync(file, 'utf8').includes(b.secret))
  await t.throwsAsync(revoke(file, 'bee'), { code: 'MI_ERR_AUTH_CREDENTIAL_NOT_FOUND' })
  await revoke(file, 'a')
  t.deepEqual(await listCredentials(file), [])
  t.is(mode(file), 0o600)
})

test('edits keep hand-written comments and unrelated entries', async (t) => {
  const file = join(tempDir(t), 'creds.yaml')
  writeFileSync(file, '# fleet credentials, owner: ops\nversion: 1\nmodules: [] # filled by the CLI\n', {
    mode: 0o600,
  })
  await createToken(file, { module: 'x', scopes: [], kind: 'token' })
  const text = readFileSync(file, 'utf8')
  t.true(text.startsWith('# fleet credentials, owner: ops'))
  t.is((await listCredentials(file)).length, 1)
})

test('JSON credentials files stay JSON', async (t) => {
  const file = join(tempDir(t), 'creds.json')
  await createToken(file, { module: 'x', scopes: ['write:*'], kind: 'token' })
  const parsed = JSON.parse(readFileSync(file, 'utf8'))
  t.is(parsed.modules[0].module, 'x')
})

test('ensureDevCredential creates once and returns the token once', async (t) => {
  const file = join(tempDir(t), 'creds.yaml')
  const first = await ensureDevCredential(file)
  if (!first.created) return t.fail()
  t.is(first.id, 'dev')
  t.is(mode(file), 0o600)
  t.false(readFileSync(file, 'utf8').includes(first.token))
  t.deepEqual(await ensureDevCredential(file), { created: false })
  const store = await CredentialStore.load(file)
  const r = store.verifyHello({ module: 'anything-at-all', method: 'token', token: first.token }, { nonce })
  t.true(r.ok)
  t.deepEqual(r.ok && r.identity.scopes, ['write:*'])
  await revoke(file, 'dev')
  t.deepEqual(await listCredentials(file), [])
})

test('operators: create, verify, list without hashes, revoke', async (t) => {
  const file = join(tempDir(t), 'creds.yaml')
  const op = await createOperator(file, { name: 'alice', scopes: ['admin'] })
  t.regex(op.token, /^miop_/)
  const store = await CredentialStore.load(file)
  t.deepEqual(store.verifyOperator(op.token), { ok: true, operator: { name: 'alice', scopes: ['admin'] } })
  t.deepEqual(store.verifyOperator('miop_nope'), { ok: false, reason: 'bad-secret' })
  t.deepEqual(store.verifyOperator(undefined), { ok: false, reason: 'bad-secret' })
  t.deepEqual(await listOperators(file), [{ name: 'alice', scopes: ['admin'], disabled: false }])
  await revokeOperator(file, 'alice')
  await store.reload()
  t.deepEqual(store.verifyOperator(op.token), { ok: false, reason: 'bad-secret' })
})

test('atomic write: 0600 even under a permissive umask, no temp files left behind', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'creds.yaml')
  const old = process.umask(0)
  try {
    await writeFileAtomic(file, 'a: 1\n')
    await writeFileAtomic(file, 'a: 2\n')
  } finally {
    process.umask(old)
  }
  t.is(mode(file), 0o600)
  t.is(readFileSync(file, 'utf8'), 'a: 2\n')
  t.deepEqual(readdirSync(dir), ['creds.yaml'])
})

test('concurrent writers are serialised by the lock file: no lost updates', async (t) => {
  const file = join(tempDir(t), 'creds.yaml')
  await Promise.all(
    Array.from({ length: 8 }, (_, i) => createToken(file, { module: `m-${i}`, scopes: [], kind: 'token' })),
  )
  t.is((await listCredentials(file)).length, 8)
  // A lock held by a live writer makes the next one wait, then proceed.
  let inside = false
  await withFileLock(file, async () => {
    inside = true
  })
  t.true(inside)
})

test('a write that would produce an invalid file is refused and the file is untouched', async (t) => {
  const file = join(tempDir(t), 'creds.yaml')
  await createToken(file, { module: 'x', scopes: [], kind: 'token' })
  const before = readFileSync(file, 'utf8')
  await t.throwsAsync(createToken(file, { module: 'y', scopes: [], kind: 'token', id: 'bad id' }))
  t.is(readFileSync(file, 'utf8'), before)
})
