import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { CredentialStore, hashToken, parseCredentials } from '../src/internal.ts'
import { tempDir, VECTOR } from './_helpers.ts'

test('validation errors name the key path of every problem', (t) => {
  const text = `
version: 1
modules:
  - module: ok-1
    hmacKey: ${VECTOR.moduleKey}
  - module: "bad name"
    tokenHash: plain-token-here
    scopes: [write:*, writ:x]
    requireMAC: true
  - module: no-secret
operators:
  - name: alice
    tokenHash: ${hashToken('x')}
    expiresAt: tomorrow
`
  const err = t.throws(() => parseCredentials(text, 'creds.yaml'), {
    code: 'MI_ERR_AUTH_CREDENTIALS_INVALID',
  })
  for (const path of [
    'modules[1].module',
    'modules[1].tokenHash',
    'modules[1].scopes[1]',
    'modules[1]: Unrecognized key: "requireMAC"',
    'modules[2]: a module credential needs tokenHash, hmacKey or both',
    'operators[0].expiresAt',
  ]) {
    t.true(err.message.includes(path), `${path} in ${err.message}`)
  }
  t.false(err.message.includes('modules[0]'))
})

test('duplicates, YAML syntax errors and duplicate keys are refused', (t) => {
  const dup = `modules:\n  - module: a\n    hmacKey: ${VECTOR.moduleKey}\n  - module: a\n    hmacKey: ${VECTOR.moduleKey}\n`
  t.regex(t.throws(() => parseCredentials(dup, 'f.yaml')).message, /modules\[1\]\.module: duplicate module a/)
  t.throws(() => parseCredentials('modules: [', 'f.yaml'), { code: 'MI_ERR_AUTH_CREDENTIALS_INVALID' })
  t.throws(() => parseCredentials('version: 1\nversion: 1\n', 'f.yaml'), {
    code: 'MI_ERR_AUTH_CREDENTIALS_INVALID',
  })
  t.throws(() => parseCredentials('version: 2\n', 'f.yaml'), { message: /version/ })
})

test('JSON files load too; an empty file is an empty set', (t) => {
  const json = JSON.stringify({
    modules: [{ module: 'sensor-1', hmacKey: VECTOR.moduleKey, scopes: ['admin'] }],
  })
  const store = CredentialStore.fromText(json, { source: 'c.json' })
  t.deepEqual(store.describe('sensor-1'), { id: 'sensor-1', pattern: 'sensor-1', scopes: ['admin'] })
  t.is(CredentialStore.fromText('').describe('x'), undefined)
})

test('base64 HMAC keys verify the same as hex', (t) => {
  const b64 = Buffer.from(VECTOR.moduleKey, 'hex').toString('base64')
  const store = CredentialStore.fromText(`modules:\n  - module: sensor-1\n    hmacKey: "base64:${b64}"\n`)
  const r = store.verifyHello(
    { module: 'sensor-1', method: 'hmac', cnonce: VECTOR.cnonce, proof: VECTOR.proof },
    { nonce: VECTOR.nonce },
  )
  t.true(r.ok)
})

test('load warns when the file is readable by others', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'creds.yaml')
  writeFileSync(file, `modules:\n  - module: a\n    hmacKey: ${VECTOR.moduleKey}\n`)
  chmodSync(file, 0o644)
  const store = await CredentialStore.load(file)
  t.regex(store.warnings[0] ?? '', /mode 0644.*chmod 600/)
  chmodSync(file, 0o600)
  t.deepEqual((await CredentialStore.load(file)).warnings, [])
  t.is(statSync(file).mode & 0o777, 0o600)
})

test('load of a missing file throws MI_ERR_AUTH_CREDENTIALS_READ', async (t) => {
  await t.throwsAsync(CredentialStore.load('/nonexistent/creds.yaml'), {
    code: 'MI_ERR_AUTH_CREDENTIALS_READ',
  })
})

test('the README example file is valid and means what the README says', (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const yaml = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1]
  if (yaml === undefined) return t.fail('no yaml block in README')
  // A fixed clock: the example's expiresAt must not turn this test into a time bomb.
  const store = CredentialStore.fromText(yaml, { now: () => Date.parse('2026-06-01T00:00:00Z') })
  t.is(store.describe('sensor-42')?.id, 'fleet')
  t.is(store.describe('sensor-7')?.id, 'sensor-7')
  const r = store.verifyHello(
    {
      module: 'sensor-1',
      method: 'hmac',
      cnonce: VECTOR.cnonce,
      proof: VECTOR.proof,
      mac: true,
      fingerprint: 'aa:bb:cc:dd:ee:ff',
    },
    { nonce: VECTOR.nonce },
  )
  t.true(r.ok)
})
