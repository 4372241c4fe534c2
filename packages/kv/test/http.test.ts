import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import test from 'ava'
import { createKvReadHandler } from '../src/http.ts'
import { KvStore } from '../src/store.ts'
import { LogSim, T0, tempDir } from './_helpers.ts'

test('the get fast path answers exactly what the generic route answers; everything else falls through', async (t) => {
  const path = join(tempDir(t), 'kv.sqlite')
  const store = new KvStore(path)
  const log = new LogSim()
  store.apply(
    log.frame('d', [
      { op: 'set', key: 's', value: { type: 'string', value: 'a "quoted"\nline ü' } },
      { op: 'set', key: 'j', value: { type: 'json', value: { a: [1, 2.5, null], b: 'x' } } },
      { op: 'set', key: 'l', value: { type: 'list', value: ['x', { y: 1 }] } },
      { op: 'set', key: 'i', value: { type: 'int', value: -(2n ** 63n) }, ttlMs: 3_600_000 },
      { op: 'set', key: 'b', value: { type: 'bool', value: false } },
      { op: 'set', key: 'k é/?&=', value: { type: 'int', value: 1n } },
    ]),
  )
  const handler = createKvReadHandler({
    stores: [{ name: 'kv', path }],
    verify: (token) =>
      token === 'good'
        ? { ok: true, operator: { name: 'op', scopes: ['read:kv.d'] } }
        : { ok: false, reason: 'bad-secret' },
    now: () => T0,
  })
  const server = createServer(async (req, res) => {
    if (!(await handler(req, res))) res.writeHead(418).end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(async () => {
    await new Promise((r) => server.close(r))
    await handler.close()
    store.close()
  })
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/kv/v1/get`
  const get = async (qs: string, token = 'good') => {
    const r = await fetch(`${base}?${qs}`, { headers: { authorization: `Bearer ${token}` } })
    return { status: r.status, type: r.headers.get('content-type'), body: await r.text() }
  }
  for (const key of ['s', 'j', 'l', 'i', 'b', 'k é/?&=']) {
    const k = encodeURIComponent(key)
    const fast = await get(`ns=d&key=${k}`)
    // store= takes the generic route (QueryParams, read-your-writes wait, sendJson).
    const generic = await get(`ns=d&key=${k}&store=kv`)
    t.is(fast.status, 200, key)
    t.deepEqual(fast, generic, key)
    t.is(JSON.parse(fast.body).key, key)
    // An applied minLsn (the SDK's read-your-writes) is answered by the fast path, the same way.
    t.deepEqual(await get(`ns=d&key=${k}&minLsn=1&waitMs=100`), generic, key)
    t.deepEqual(await get(`waitMs=0&minLsn=6&ns=d&key=${k}`), generic, key)
  }
  const auth = 'Bearer good'
  t.truthy(handler.fastGet('/kv/v1/get?ns=d&key=s', auth))
  t.truthy(handler.fastGet('/kv/v1/get?ns=d&key=s&minLsn=6&waitMs=5000', auth))
  // Not applied yet (the generic route waits), or values the generic route refuses: not the fast path's.
  for (const qs of ['minLsn=7', 'minLsn=-1', 'minLsn=1.0', 'waitMs=30001', 'waitMs=x', 'minLsn=1&minLsn=1'])
    t.is(handler.fastGet(`/kv/v1/get?ns=d&key=s&${qs}`, auth), undefined, qs)
  t.is((await get('ns=d&key=s&minLsn=7&waitMs=0')).status, 504)
  t.is((await get('ns=d&key=s&waitMs=30001')).status, 400)
  t.is((await get('ns=d&key=missing')).status, 404)
  t.is((await get('ns=d&key=s', 'bad')).status, 401)
  t.is((await get('ns=other&key=s')).status, 403)
  t.is((await get('ns=d&key=s&ns=d')).status, 400)
  t.is((await get('ns=d&key=s&nope=1')).status, 400)
})
