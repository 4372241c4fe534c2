/**
 * The subscriber scenarios (ai, s3, index, kv-*) take tens of seconds each, too long for the
 * `--quick` set. This checks, cheaply, that what they run still starts: one server with each
 * scenario's own subscriber entries (ai onnx and remote, s3, index, kv), the stores beside it
 * (fauxqs, the v2 inference server), a few records through every subscriber, and the read APIs
 * the scenarios time. Plus the load generator's record bodies. It asserts no speed.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeOp } from '@module-ingest/kv-protocol'
import test from 'ava'
import { type BodySpec, makeBodies } from '../src/load/bodies.ts'
import { kKvEntry, preloadOurs } from '../src/scenarios/kv-setup.ts'
import { aiEntry, aiFields, noopEntry, remoteOptions } from '../src/scenarios/sub-ai.ts'
import { warmSubscriber } from '../src/scenarios/sub-common.ts'
import { kIndexEntry, rangeQueryUrl } from '../src/scenarios/sub-index.ts'
import { oursGet, quietGets } from '../src/scenarios/sub-kv.ts'
import { kBucket, s3Entry } from '../src/scenarios/sub-s3.ts'
import { startOurs } from '../src/targets/ours.ts'
import { startFauxqs, startV2Server } from '../src/targets/stores.ts'

test('bodies: JSON rows carry the fields, kv bodies are set operations on distinct keys', (t) => {
  const json = makeBodies({ kind: 'json', fields: ['a', 'b'] }, 200, 3)
  const row = JSON.parse(json[0]!.body.toString()) as Record<string, unknown>
  t.is(typeof row.a, 'number')
  t.is(typeof row.b, 'number')
  t.is(json[0]!.body.byteLength, 200, 'padded to the body size')
  const kv = makeBodies({ kind: 'kv-set', ns: 'bench', keys: 10 }, 0, 0)
  t.is(kv.length, 10)
  t.is(new Set(kv.map((x) => x.key)).size, 10)
  const { op } = decodeOp(kv[0]!.body)
  t.is(op.op, 'set')
  t.is(op.key, kv[0]!.key!)
})

test('the subscriber scenarios start: every entry runs, stores answer, read APIs serve', async (t) => {
  t.timeout(180_000)
  const dir = await mkdtemp(join(tmpdir(), 'mi-bench-subs-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const s3 = await startFauxqs(join(dir, 's3'), 0, [kBucket])
  t.teardown(() => s3.kill())
  const v2 = await startV2Server('http')
  t.teardown(() => v2.kill())
  const server = await startOurs({
    dataDir: join(dir, 'data'),
    flush: 'always',
    http: true,
    subscribers: [
      aiEntry('ai', 64, {}),
      aiEntry('ai-http', 64, remoteOptions('http', v2.port)),
      noopEntry('noop', 64),
      s3Entry(s3.port),
      kIndexEntry,
      kKvEntry,
    ],
  })
  t.teardown(() => server.kill())

  const body: BodySpec = { kind: 'json', fields: [...aiFields(), 'temp', 'load'] }
  for (const name of ['ai', 'ai-http', 'noop', 's3', 'index'])
    await warmSubscriber(server, name, 'bench', body, 0)
  await preloadOurs(server, 64)
  const subs = (await server.stats()).subscribers ?? []
  for (const s of subs) {
    t.is(s.deadLettered ?? 0, 0, `${s.name} dead-lettered nothing`)
    t.is(s.lastError ?? null, null, `${s.name} reported no error`)
  }
  t.true(await oursGet(server)('device-5'), 'kv GET finds a loaded key')
  // The quiet-get client process (kv-quiet-client.ts): its gets reach the server and find the keys.
  const quiet = await quietGets(
    {
      kind: 'ours',
      port: server.readApi!,
      token: server.operatorToken!,
      ns: 'bench',
      keys: 64,
      gets: 50,
      warm: 5,
    },
    server.pid,
  )
  t.is(quiet.gets, 50)
  t.is(quiet.get_misses, undefined, 'the quiet client found every key')
  const res = await fetch(rangeQueryUrl(server).replace('bench-0', 'bench-warm'), {
    headers: { authorization: `Bearer ${server.operatorToken}` },
  })
  t.is(res.status, 200, await res.text())
})
