/**
 * Durability of the keyed store: a write ACKed (durable in the log) but not yet applied when the
 * server is SIGKILLed is visible after restart — the store reopens at its applied lsn and the
 * consumer group replays the rest.
 */
import { connect, createKv } from '@module-ingest/client'
import { KvReader } from '@module-ingest/kv'
import test from 'ava'
import { kvServe, kvSetup } from './_api-server.ts'

test('SIGKILL between ACK and apply, then restart: the writes are visible after recovery', async (t) => {
  t.timeout(240_000, 'two server starts on a loaded machine')
  const cleanups: Array<() => unknown> = []
  t.teardown(async () => {
    for (const fn of cleanups.reverse()) await fn()
  })
  const s = await kvSetup((fn) => cleanups.push(fn), 'crash')
  // Deliveries held back for a minute: the writes are ACKed long before the store sees them.
  const first = await kvServe((fn) => cleanups.push(fn), s, { batchWaitMs: 60_000 })
  const client = await connect({ port: first.port, module: 'dev-1', auth: { token: s.moduleToken } })
  const kv = createKv({ client, module: 'dev-1' }) // no api: writes resolve on the durable ACK
  const ns = kv('site1')
  await ns.set('before', 'applied?')
  await ns.txn((x) => x.set('a', 1).set('b', [1, 2]).hset('c', { on: true }))
  const last = await ns.set('counter', 41n)
  t.is(new KvReader(s.storePath).appliedLsn(), 0, 'nothing applied yet: the kill lands between ACK and apply')
  first.kill('SIGKILL')
  await first.exited
  await client.close({ timeoutMs: 100 }).catch(() => {})

  const second = await kvServe((fn) => cleanups.push(fn), s)
  const c2 = await connect({ port: second.port, module: 'dev-1', auth: { token: s.moduleToken } })
  cleanups.push(() => c2.close())
  const kv2 = createKv({ client: c2, module: 'dev-1', api: second.api, token: s.reader, waitMs: 30_000 })
  const res = await fetch(
    `${second.api}/kv/v1/get?ns=site1&key=counter&module=dev-1&seq=${last.seq}&waitMs=30000`,
    {
      headers: { authorization: `Bearer ${s.reader}` },
    },
  )
  t.is(res.status, 200)
  const ns2 = kv2('site1')
  t.like(await ns2.get('counter'), { type: 'int', value: 41n })
  t.like(await ns2.get('before'), { value: 'applied?' })
  t.like(await ns2.get('a'), { value: 1n })
  t.deepEqual((await ns2.get('b'))?.value, [1, 2])
  t.deepEqual((await ns2.get('c'))?.value, { on: true })
  // And the store goes on from there.
  await ns2.set('counter', 42n, { rev: (await ns2.get('counter'))!.revision })
  t.like(await ns2.get('counter'), { value: 42n })
})
