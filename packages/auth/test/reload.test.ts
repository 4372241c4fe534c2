import { renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { CredentialStore, hashToken, type Identity, type ReloadInfo } from '../src/internal.ts'
import { tempDir } from './_helpers.ts'

const TOKEN_A = 'mi_token-a-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
const TOKEN_B = 'mi_token-b-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'
const nonce = new Uint8Array(16)
const hashA = hashToken(TOKEN_A)
const hashB = hashToken(TOKEN_B)

function entries(over: Record<string, string> = {}): string {
  const e = {
    a: `  - id: a\n    module: sensor-a\n    tokenHash: ${hashA}\n    scopes: [write:*]\n`,
    b: `  - id: b\n    module: sensor-b\n    tokenHash: ${hashB}\n    scopes: [write:*]\n`,
    fleet: `  - id: fleet\n    module: fleet-*\n    tokenHash: ${hashA}\n`,
    ...over,
  }
  return `version: 1\nmodules:\n${Object.values(e).join('')}`
}

function login(store: CredentialStore, module: string, token: string): Identity {
  const r = store.verifyHello({ module, method: 'token', token }, { nonce })
  if (!r.ok) throw new Error(r.reason)
  return r.identity
}

test('reload policy: what happens to live sessions of each kind of change', (t) => {
  const store = CredentialStore.fromText(entries())
  const a = login(store, 'sensor-a', TOKEN_A)
  const b = login(store, 'sensor-b', TOKEN_B)
  const f7 = login(store, 'fleet-7', TOKEN_A)
  t.is(a.generation, 1)
  t.is(store.isRevokedOrChanged(a), null)

  // Same content: no new generation, nothing to review.
  t.like(store.replaceText(entries()), { changed: false, generation: 1 })

  // Comment and createdAt edits are bookkeeping: sessions stay.
  const r1 = store.replaceText(
    entries({
      a: `  - id: a\n    module: sensor-a\n    tokenHash: ${hashA}\n    scopes: [write:*]\n    comment: hi\n`,
    }),
  )
  t.like(r1, { changed: true, generation: 2, previousGeneration: 1 })
  t.is(store.isRevokedOrChanged(a), null)

  // Scope change on a, b removed, a new exact entry for fleet-7 takes over from the pattern.
  store.replaceText(
    entries({
      a: `  - id: a\n    module: sensor-a\n    tokenHash: ${hashA}\n    scopes: [write:x]\n`,
      b: '',
      f7: `  - id: f7\n    module: fleet-7\n    tokenHash: ${hashB}\n`,
    }),
  )
  t.is(store.generation, 3)
  t.is(store.isRevokedOrChanged(a), 'changed')
  t.is(store.isRevokedOrChanged(b), 'revoked')
  t.is(store.isRevokedOrChanged(f7), 'changed')
  t.is(store.isRevokedOrChanged(login(store, 'fleet-8', TOKEN_A)), null)

  // Disabled, and a rotated secret.
  const a2 = login(store, 'sensor-a', TOKEN_A)
  store.replaceText(
    entries({
      a: `  - id: a\n    module: sensor-a\n    tokenHash: ${hashA}\n    scopes: [write:x]\n    disabled: true\n`,
    }),
  )
  t.is(store.isRevokedOrChanged(a2), 'disabled')
  store.replaceText(
    entries({
      a: `  - id: a\n    module: sensor-a\n    tokenHash: ${hashToken(TOKEN_A)}\n    scopes: [write:x]\n`,
    }),
  )
  t.is(store.isRevokedOrChanged(a2), 'changed')
})

test('expiry passing during a session ends it', (t) => {
  let now = Date.parse('2026-01-01T00:00:00Z')
  const store = CredentialStore.fromText(
    `modules:\n  - module: m\n    tokenHash: ${hashA}\n    expiresAt: 2026-01-02T00:00:00Z\n`,
    { now: () => now },
  )
  const id = login(store, 'm', TOKEN_A)
  t.is(id.expiresAtMs, Date.parse('2026-01-02T00:00:00Z'))
  t.is(store.isRevokedOrChanged(id), null)
  now = Date.parse('2026-01-02T00:00:00Z')
  t.is(store.isRevokedOrChanged(id), 'expired')
})

test('a broken text keeps the last good set', (t) => {
  const store = CredentialStore.fromText(entries())
  const a = login(store, 'sensor-a', TOKEN_A)
  t.throws(() => store.replaceText('modules:\n  - module: "x y"\n'), {
    code: 'MI_ERR_AUTH_CREDENTIALS_INVALID',
  })
  t.is(store.generation, 1)
  t.is(store.isRevokedOrChanged(a), null)
  t.notThrows(() => login(store, 'sensor-b', TOKEN_B))
})

function nextEvent<T>(register: (resolve: (v: T) => void) => void): Promise<T> {
  return new Promise((resolve) => register(resolve))
}

test('watch: atomic replace reloads; a broken file reports and keeps the last good set', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'creds.yaml')
  writeFileSync(file, entries(), { mode: 0o600 })
  const store = await CredentialStore.load(file)
  t.teardown(() => store.close())
  const session = login(store, 'sensor-b', TOKEN_B)

  let onReload!: (i: ReloadInfo) => void
  let onError!: (e: Error) => void
  store.watch(
    (info) => onReload(info),
    (err) => onError(err),
    { debounceMs: 20 },
  )

  // A broken edit (written in place, like an editor would) is reported; nothing changes.
  const failed = nextEvent<Error>((r) => {
    onError = r
  })
  writeFileSync(file, 'modules:\n  - module: [\n')
  t.is(((await failed) as Error & { code: string }).code, 'MI_ERR_AUTH_CREDENTIALS_INVALID')
  t.is(store.generation, 1)
  t.notThrows(() => login(store, 'sensor-a', TOKEN_A))

  // Revoke b by atomic rename, as the CLI does.
  const reloaded = nextEvent<ReloadInfo>((r) => {
    onReload = r
  })
  writeFileSync(join(dir, 'next.tmp'), entries({ b: '' }))
  renameSync(join(dir, 'next.tmp'), file)
  const info = await reloaded
  t.is(info.generation, 2)
  t.is(store.isRevokedOrChanged(session), 'revoked')
  t.like(store.verifyHello({ module: 'sensor-b', method: 'token', token: TOKEN_B }, { nonce }), {
    ok: false,
    reason: 'unknown-module',
  })
})
