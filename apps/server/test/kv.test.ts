/**
 * The keyed store end to end: a real `module-ingest serve` with the `kv` subscriber, writes over
 * MIP/1 through the SDK (and raw records for bad input), reads over HTTP. Real store files.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect, createKv } from '@module-ingest/client'
import { encodeOp } from '@module-ingest/kv-protocol'
import test from 'ava'
import { Packr } from 'msgpackr'
import { type ApiServer, getJson as httpGet, type KvSetup, kvServe, kvSetup } from './_api-server.ts'
import { CLI as cli, runCli } from './_run.ts'

const run = (args: string[]) => runCli(args, { timeoutMs: 120_000 })

const cleanups: Array<() => unknown> = []
test.after.always(async () => {
  for (const fn of cleanups.reverse()) await fn()
})
let shared: Promise<{ s: KvSetup; server: ApiServer }> | undefined
function server() {
  shared ??= (async () => {
    const s = await kvSetup((fn) => cleanups.push(fn), 'e2e')
    return { s, server: await kvServe((fn) => cleanups.push(fn), s) }
  })()
  return shared
}
async function sdk(module = 'dev-1') {
  const { s, server: srv } = await server()
  const client = await connect({ port: srv.port, module, auth: { token: s.moduleToken } })
  cleanups.push(() => client.close())
  return { client, kv: createKv({ client, module, api: srv.api, token: s.reader, waitMs: 20_000 }), s, srv }
}

test('every command and type through the SDK; reads are typed, with revisions', async (t) => {
  t.timeout(180_000, 'server start on a loaded machine')
  const { kv } = await sdk()
  const ns = kv('shared.types') // its own namespace: keys() sees only this test's keys
  const a = await ns.set('name', 'kiln-7')
  t.true(typeof a.lsn === 'number' && a.lsn > 0)
  await ns.set('big', 9_223_372_036_854_775_807n)
  await ns.set('n', -42)
  await ns.set('on', true)
  await ns.set('cfg', { mode: 'auto', limits: { max: 5 } })
  await ns.set('tags', ['a', 'b'])
  await ns.set('num-as-json', 1.5)
  t.like(await ns.get('name'), { type: 'string', value: 'kiln-7', revision: a.lsn })
  t.like(await ns.get('big'), { type: 'int', value: 9_223_372_036_854_775_807n })
  t.like(await ns.get('n'), { type: 'int', value: -42n })
  t.like(await ns.get('on'), { type: 'bool', value: true })
  t.deepEqual((await ns.get('cfg'))?.value, { mode: 'auto', limits: { max: 5 } })
  t.deepEqual((await ns.get('tags'))?.value, ['a', 'b'])
  t.like(await ns.get('num-as-json'), { type: 'json', value: 1.5 })

  await ns.hset('cfg', { limits: { max: 9, min: 1 }, mode: null })
  await ns.hset('cfg', 'owner', 'ops')
  t.deepEqual((await ns.get('cfg'))?.value, { limits: { max: 9, min: 1 }, owner: 'ops' })
  await ns.lset('tags', 'push', { value: 'c' })
  await ns.lset('tags', 'unshift', { value: 'z' })
  await ns.lset('tags', 'set', { index: 1, value: 'A' })
  await ns.lset('tags', 'remove', { index: -1 })
  await ns.lset('tags', 'shift')
  t.deepEqual((await ns.get('tags'))?.value, ['A', 'b'])
  await ns.del('on')
  t.is(await ns.get('on'), undefined)

  const page1 = await ns.keys({ limit: 3 })
  t.deepEqual(
    page1.keys.map((k) => k.key),
    ['big', 'cfg', 'n'],
  )
  const page2 = await ns.keys({ limit: 3, after: page1.next! })
  t.deepEqual(
    page2.keys.map((k) => k.key),
    ['name', 'num-as-json', 'tags'],
  )
  t.is(page2.next, undefined)
  const { s, srv } = await sdk('dev-1b')
  const h = await httpGet(srv.api, '/kv/v1/history?ns=shared.types&key=tags', s.reader)
  t.deepEqual(
    h.body.history.map((e: { op: string }) => e.op),
    ['lset', 'lset', 'lset', 'lset', 'lset', 'set'],
  )
})

test('transactions: all or nothing; a failed expected revision rejects every op', async (t) => {
  t.timeout(180_000)
  const { kv } = await sdk('dev-2')
  const ns = kv('site1')
  const w = await ns.set('ctr', 1, { rev: 0 })
  const ok = await ns.txn((x) =>
    x.set('ctr', 2, { rev: w.lsn! }).set('t1', 'a').in('shared.x').set('k', 'cross-ns'),
  )
  t.is(ok.lastLsn! - ok.lsn!, 2)
  const err = await t.throwsAsync(
    ns.txn(
      (x) => x.set('t2', 'never').del('t1').set('ctr', 3, { rev: w.lsn! }), // stale: ctr is at ok.lsn now
    ),
    { code: 'MI_ERR_KV_REJECTED' },
  )
  t.like((err as Error & { outcome: unknown }).outcome, {
    ok: false,
    code: 'MI_ERR_KV_REVISION_MISMATCH',
    index: 2,
    ops: 3,
  })
  t.is(await ns.get('t2'), undefined)
  t.like(await ns.get('t1'), { value: 'a' })
  t.like(await ns.get('ctr'), { value: 2n, revision: ok.lsn })
  t.like(await kv('shared.x').get('k'), { value: 'cross-ns' })
  await t.throwsAsync(ns.set('ctr', 9, { rev: 0 }), {
    code: 'MI_ERR_KV_REJECTED',
    message: /REVISION_MISMATCH/,
  })
})

test('TTL: a key disappears from reads once it expires (server receive time + ttl)', async (t) => {
  t.timeout(180_000)
  const { kv } = await sdk('dev-3')
  const ns = kv('site1')
  const before = Date.now()
  await ns.set('ephemeral', 'x', { ttlMs: 1500 })
  // The history shows the expiry even if a slow machine already passed it.
  const { s, srv } = await sdk('dev-3b')
  const h = await httpGet(srv.api, '/kv/v1/history?ns=site1&key=ephemeral&limit=1', s.reader)
  const expiresAt = h.body.history[0].expiresAt as number
  t.true(expiresAt >= before + 1500 && expiresAt <= Date.now() + 1500)
  for (let i = 0; i < 200 && (await ns.get('ephemeral')) !== undefined; i++) await sleep(100)
  t.is(await ns.get('ephemeral'), undefined)
  t.true(Date.now() >= expiresAt)
  // Expired counts as absent: rev 0 succeeds.
  await ns.set('ephemeral', 'again', { rev: 0 })
  t.like(await ns.get('ephemeral'), { value: 'again', expiresAt: null })
})

test('namespace isolation: write and read scopes', async (t) => {
  t.timeout(180_000)
  const { client, s, srv, kv } = await sdk('dev-4')
  await t.throwsAsync(kv('site2').set('k', 'v'), { code: 'MI_ERR_CLIENT_NACK', message: /FORBIDDEN|scope/i })
  await kv('site1').set('iso', 'v')
  const other = createKv({ client, module: 'dev-4', api: srv.api, token: s.otherReader })
  await t.throwsAsync(other('site1').get('iso'), { code: 'MI_ERR_KV_READ_FAILED', message: /403/ })
  t.is((await httpGet(srv.api, '/kv/v1/get?ns=site1&key=iso', s.writerOnly)).status, 403)
  t.is((await httpGet(srv.api, '/kv/v1/get?ns=site1&key=iso')).status, 401)
  t.is((await httpGet(srv.api, '/kv/v1/get?ns=site1&key=iso', 'wrong')).status, 401)
  t.is((await httpGet(srv.api, '/kv/v1/get?ns=site1&key=iso', s.reader)).status, 200)
  t.is((await httpGet(srv.api, '/kv/v1/get?ns=site1&key=iso&bogus=1', s.reader)).status, 400)
})

test('bad input is rejected with a clear outcome and never stops the materializer', async (t) => {
  t.timeout(180_000)
  const { client, kv, s, srv } = await sdk('dev-5')
  const packr = new Packr({ useRecords: false })
  const bad = [
    [Buffer.from('garbage'), 'MI_ERR_KV_OP_INVALID'],
    [packr.pack({ op: 'incr', key: 'k' }), 'MI_ERR_KV_OP_INVALID'],
    [packr.pack({ op: 'set', key: 'k', type: 'string', value: 'v', ttlMs: 0 }), 'MI_ERR_KV_TTL_INVALID'],
    [
      packr.pack({ op: 'set', key: 'k', type: 'string', value: 'x'.repeat(5000) }),
      'MI_ERR_KV_VALUE_TOO_LARGE',
    ],
  ] as const
  for (const [body, code] of bad) {
    const seq = await client.send('kv.site1', body)
    const r = await httpGet(srv.api, `/kv/v1/outcome?module=dev-5&seq=${seq}&waitMs=20000`, s.reader)
    t.like(r.body, { ok: false, code }, code)
    t.is((await httpGet(srv.api, `/kv/v1/outcome?lsn=${r.body.lsn}`, s.reader)).body.code, code)
  }
  await kv('site1').set('s', 'text')
  await t.throwsAsync(kv('site1').lset('s', 'push', { value: 1 }), {
    code: 'MI_ERR_KV_REJECTED',
    message: /WRONG_TYPE/,
  })
  // The SDK refuses what the store would reject, before sending.
  t.throws(() => encodeOp({ op: 'set', key: '', value: { type: 'string', value: 'v' } }), {
    code: 'MI_ERR_KV_OP_INVALID',
  })
  await t.throwsAsync(kv('site1').set('k', 'v', { ttlMs: -1 }), { code: 'MI_ERR_KV_TTL_INVALID' })
  // Still applying.
  await kv('site1').set('after-bad', 1)
  t.like(await kv('site1').get('after-bad'), { value: 1n })
})

test('module-ingest kv: set/get/del/hset/lset/keys/exec from the shell', async (t) => {
  t.timeout(300_000, 'a dozen CLI processes on a loaded machine')
  const { s, server: srv } = await server()
  const base = [
    '--port',
    String(srv.port),
    '-m',
    'dev-cli',
    '--token',
    s.moduleToken,
    '--url',
    srv.api,
    '--read-token',
    s.reader,
  ]
  const kv = async (...args: string[]) => {
    const r = await run(['kv', ...args.slice(0, 2), ...base, ...args.slice(2)])
    return { ...r, json: r.stdout.trim() ? JSON.parse(r.stdout) : undefined }
  }
  const w = await kv('set', 'shared.cli', 'count', '10', '--ttl', '1h')
  t.is(w.code, 0, w.stderr)
  t.like(w.json, { ok: true })
  const g = await kv('get', 'shared.cli', 'count')
  t.like(g.json, { key: 'count', type: 'int', value: 10, revision: w.json.lsn })
  t.true(g.json.expiresAt > Date.now())
  t.is(
    (await kv('set', 'shared.cli', 'count', '11', '--expect', '999999')).code,
    1,
    'stale revision → exit 1',
  )
  t.is(
    (
      await run([
        'kv',
        'exec',
        'SET big 9223372036854775807 FROM shared.cli; HSET cfg {"a": 1} FROM shared.cli',
        ...base,
      ])
    ).code,
    0,
  )
  t.regex((await kv('get', 'shared.cli', 'big')).stdout, /"value":9223372036854775807[,}]/)
  t.is((await kv('hset', 'shared.cli', 'cfg', 'b', '[true]')).code, 0)
  t.deepEqual((await kv('get', 'shared.cli', 'cfg')).json.value, { a: 1, b: [true] })
  t.is(
    (await run(['kv', 'exec', 'LSET q PUSH "x" FROM shared.cli; LSET q UNSHIFT 1 FROM shared.cli', ...base]))
      .code,
    0,
  )
  t.is((await kv('lset', 'shared.cli', 'q', 'set', '0', '2')).code, 0)
  t.deepEqual((await kv('get', 'shared.cli', 'q')).json.value, [2, 'x'])
  const e = await run([
    'kv',
    'exec',
    'SET greeting "hello world" FROM shared.cli TTL 10s; DEL q FROM shared.cli',
    ...base,
  ])
  t.is(e.code, 0, e.stderr)
  t.like(JSON.parse(e.stdout), { ok: true })
  const eg = await run(['kv', 'exec', 'GET greeting FROM shared.cli', ...base])
  t.like(JSON.parse(eg.stdout), { type: 'string', value: 'hello world' })
  t.is((await kv('get', 'shared.cli', 'q')).code, 1, 'deleted → exit 1')
  const keys = await kv('keys', 'shared.cli', '--limit', '2')
  t.deepEqual(
    keys.json.keys.map((k: { key: string }) => k.key),
    ['big', 'cfg'],
  )
  t.is(keys.json.next, 'cfg')
  t.is((await kv('del', 'shared.cli', 'cfg')).code, 0)
  const bad = await run(['kv', 'exec', 'SET k v FROM shared.cli TTL forever', ...base])
  t.is(bad.code, 1)
  t.regex(bad.stderr, /MI_ERR_KV_COMMAND_INVALID|unit/)
})

test('module-ingest kv watch prints puts and deletes', async (t) => {
  t.timeout(180_000)
  const { kv, s, srv } = await sdk('dev-6')
  const ns = kv('shared.watch')
  await ns.set('a', 1)
  const child = spawn(
    process.execPath,
    [cli, 'kv', 'watch', 'shared.watch', '--url', srv.api, '--read-token', s.reader, '--interval', '100ms'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  t.teardown(() => child.kill('SIGKILL'))
  const events: Array<Record<string, unknown>> = []
  const waitFor = async (pred: (e: Record<string, unknown>) => boolean) => {
    for (let i = 0; i < 600 && !events.some(pred); i++) await sleep(100)
    t.true(events.some(pred), JSON.stringify(events))
  }
  createInterface({ input: child.stdout! }).on('line', (l) => events.push(JSON.parse(l)))
  await waitFor((e) => e.event === 'put' && e.key === 'a' && e.value === 1)
  await ns.set('b', 'two')
  await waitFor((e) => e.event === 'put' && e.key === 'b' && e.value === 'two')
  await ns.del('a')
  await waitFor((e) => e.event === 'del' && e.key === 'a')
})
