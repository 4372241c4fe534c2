import { RecordPacker } from '@module-ingest/log/packed'
import test from 'ava'
import {
  compileStreamFilter,
  decodeBatch,
  encodeBatch,
  hostEmit,
  ingestWatch,
  OffsetTracker,
  Pacer,
  resolvePluginSpecifier,
  resolveSubscriberConfigs,
  withPluginBatch,
  withPluginRateLimit,
} from '../src/internal.ts'
import { unavailableWaitMs } from '../src/unavailable.ts'

test('stream globs: * spans dots, the rest is literal, own dead letters are excluded', (t) => {
  const f = compileStreamFilter(['sensors.*', 'exact', 'a*c'], 'dlq.me')
  t.true(f('sensors.temp'))
  t.true(f('sensors.a.b'))
  t.false(f('sensorsXtemp'))
  t.true(f('exact'))
  t.false(f('exactly'))
  t.true(f('abc'))
  t.true(f('ac'))
  const all = compileStreamFilter(['*'], 'dlq.me')
  t.true(all('dlq.other'))
  t.false(all('dlq.me'))
})

test('offset tracker commits only the contiguous done point', (t) => {
  const tr = new OffsetTracker(1)
  const b1 = { done: false }
  const b2 = { done: false }
  tr.add(1, b1)
  tr.add(2, b2)
  tr.add(3, null)
  tr.add(4, b1)
  t.is(tr.nextLsn(), 1)
  b2.done = true
  t.is(tr.nextLsn(), 1, 'b2 done but b1 still pending')
  b1.done = true
  t.is(tr.nextLsn(), 5)
  tr.caughtUp(10)
  t.is(tr.nextLsn(), 10, 'caught up past filtered records')
  // A filtered group: one skipped run for its whole range.
  const b3 = { done: false }
  tr.add(10, b3)
  tr.add(11, null, 40)
  tr.add(41, b3)
  t.is(tr.scannedLsn(), 42)
  b3.done = true
  t.is(tr.nextLsn(), 42)
})

test('batches round-trip through the columnar codec', (t) => {
  const recs = [
    {
      lsn: 1,
      stream: 's',
      module: 'm',
      core: '',
      seq: 2n ** 64n - 1n,
      ts: 1_700_000_000_000_001,
      rts: 5,
      body: new Uint8Array([1, 2]),
    },
    {
      lsn: 2,
      stream: 'ströme.ü',
      module: 'm',
      core: 'c',
      seq: 1n,
      ts: -1.5,
      rts: 6,
      body: new Uint8Array(0),
    },
    {
      lsn: 9,
      stream: 's',
      module: 'm2',
      core: 'c',
      seq: 0n,
      ts: 2 ** 53 + 2,
      rts: 7,
      body: Buffer.from('x✓'),
    },
  ]
  // A ts above 2^53-1 is a bigint: exact across the move (its batch carries a u64 column).
  const huge = [
    { ...recs[2]!, lsn: 10, ts: 2n ** 64n - 1n },
    { ...recs[0]!, lsn: 11 },
    { ...recs[1]!, lsn: 12, ts: 2n ** 53n },
  ]
  t.deepEqual(
    decodeBatch(encodeBatch(huge)).map((r) => ({ ...r, body: [...r.body] })),
    huge.map((r) => ({ ...r, body: [...r.body] })),
  )
  const back = decodeBatch(encodeBatch(recs))
  t.deepEqual(
    back.map((r) => ({ ...r, body: [...r.body] })),
    recs.map((r) => ({ ...r, body: [...r.body] })),
  )
  t.deepEqual(decodeBatch(encodeBatch([])), [])
})

test('emits: packed derived records go to emitPacked as they are, else to emit as records', async (t) => {
  const emits = [
    { stream: 'ai.x', body: Buffer.from('{"a":1}') },
    { stream: 'ai.ü', body: new Uint8Array(0) },
    { stream: 'ai.x', body: new Uint8Array([0, 255]) },
    { stream: 'ai.x', body: '{"ü":"✓"}' },
  ]
  const packer = new RecordPacker()
  for (const e of emits) packer.add(e.stream, e.body)
  const packed = packer.take()
  const records: unknown[] = []
  const packs: unknown[] = []
  const plain = hostEmit(
    async (r) => void records.push(...r.map((e) => ({ stream: e.stream, body: [...e.body] }))),
    undefined,
  )
  await plain(packed)
  t.deepEqual(
    records,
    emits.map((e) => ({
      stream: e.stream,
      body: [...(typeof e.body === 'string' ? Buffer.from(e.body) : e.body)],
    })),
  )
  const both = hostEmit(
    async () => t.fail('records only for dead letters'),
    async (p) => void packs.push(p),
  )
  await both(packed)
  t.deepEqual(packs, [packed])
  // Dead letters are records, whatever the host takes packed.
  const letters = [{ stream: 'dlq.x', body: Buffer.from('{}') }]
  const seen: unknown[] = []
  await hostEmit(
    async (r) => void seen.push(r),
    async () => t.fail('not packed'),
  )(letters)
  t.deepEqual(seen, [letters])
})

test('config: defaults, disabled entries dropped, coded errors with the option path', (t) => {
  const [a] = resolveSubscriberConfigs([
    { name: 'a', use: 'disk' },
    { name: 'b', use: 'disk', enabled: false },
  ])
  t.is(a!.group, 'sub.a')
  t.deepEqual(a!.streams, ['*'])
  t.is(a!.concurrency, 1)
  const err = t.throws(() => resolveSubscriberConfigs([{ name: 'a', use: 'x', batch: { maxRecords: 0 } }]))
  t.is((err as { code?: string }).code, 'MI_ERR_SUBSCRIBER_OPT_INVALID')
  t.regex(err!.message, /subscribers\[0\]\.batch\.maxRecords/)
  const dup = t.throws(() =>
    resolveSubscriberConfigs([
      { name: 'a', use: 'x' },
      { name: 'a', use: 'y' },
    ]),
  )
  t.is((dup as { code?: string }).code, 'MI_ERR_SUBSCRIBER_DUPLICATE')
})

test('registered names resolve to what the host registered from anywhere; paths resolve against baseDir', (t) => {
  // The runtime knows no plugin by name: the host's registry (apps/server/src/plugins.ts) does.
  const plugins = { disk: 'file:///app/subscriber-disk/src/index.ts', nats: 'file:///app/nats.ts' }
  t.regex(resolvePluginSpecifier('disk', '/', plugins), /subscriber-disk\/src\/index\.ts$/)
  t.is(resolvePluginSpecifier('nats', '/', plugins), 'file:///app/nats.ts')
  t.throws(() => resolvePluginSpecifier('disk', '/'), { code: 'MI_ERR_PLUGIN_NOT_FOUND' } as never)
  t.is(resolvePluginSpecifier('./p.ts', '/srv/app'), 'file:///srv/app/p.ts')
  t.throws(() => resolvePluginSpecifier('surely-not-installed-plugin', '/'), {
    code: 'MI_ERR_PLUGIN_NOT_FOUND',
  } as never)
})

test('unavailableWaitMs: no hint → the backoff; a hint → it, capped by the backoff, floored from the attempt start', (t) => {
  t.is(unavailableWaitMs({}, 5000, 10, 100), 5000)
  t.is(unavailableWaitMs({ retryAfterMs: 'soon' }, 5000, 10, 100), 5000)
  t.is(unavailableWaitMs({ retryAfterMs: 0 }, 5000, 2000, 100), 0)
  t.is(unavailableWaitMs({ retryAfterMs: 0 }, 5000, 10, 100), 90, 'an instant failure waits out the floor')
  t.is(unavailableWaitMs({ retryAfterMs: 60_000 }, 5000, 10, 100), 5000, 'never longer than the backoff')
})

test('batch limits: fields the entry sets, then those the plugin declares, then the defaults', (t) => {
  const entry = { name: 'kv', use: 'kv', batch: { maxWaitMs: 20 } }
  const [cfg] = resolveSubscriberConfigs([entry])
  const out = withPluginBatch(cfg!, entry.batch, { maxRecords: 20_000, maxBytes: 4 << 20, maxWaitMs: 500 })
  t.deepEqual(out.batch, { maxRecords: 20_000, maxBytes: 4 << 20, maxWaitMs: 20 })
  t.is(withPluginBatch(cfg!, entry.batch, undefined), cfg!)
  const [bare] = resolveSubscriberConfigs([{ name: 'a', use: 'x' }])
  t.deepEqual(withPluginBatch(bare!, undefined, { maxRecords: 7 }).batch, { ...bare!.batch, maxRecords: 7 })
})

test('Pacer: hand-overs never pass burst + rate × elapsed, whatever the batch sizes', (t) => {
  let now = 0
  const p = new Pacer(
    { bytesPerSec: 1000, burstBytes: 500, when: 'always' },
    () => true,
    () => now,
  )
  let handed = 0
  for (const bytes of [100, 400, 300, 2000, 1, 1, 700, 50, 5000, 10]) {
    now += p.take(bytes) // wait what it says, then hand over
    handed += bytes
    t.true(handed <= 500 + now, `${handed} bytes by ${now} ms`)
    now += 7 // the batch's own time
  }
  t.is(p.take(0), 0)
  t.true(now >= handed - 500, 'and the rate is what it lets through over time')
})

test("Pacer: when 'ingesting', nothing is charged while records are not arriving", (t) => {
  const now = 0
  let ingesting = false
  const p = new Pacer(
    { bytesPerSec: 1000, burstBytes: 100, when: 'ingesting' },
    () => ingesting,
    () => now,
  )
  t.is(p.take(10_000), 0)
  t.is(p.take(10_000), 0)
  ingesting = true
  t.is(p.take(100), 0, 'the bucket is full when ingest starts')
  t.is(p.take(1000), 1000)
})

test('ingestWatch: ingest counts as active for a second after the log end moved', (t) => {
  let now = 0
  let lsn = 10
  const active = ingestWatch(
    () => lsn,
    () => now,
  )
  t.true(active(), 'the first look counts as a move')
  now = 999
  t.true(active())
  now = 1000
  t.false(active())
  lsn = 11
  now = 5000
  t.true(active())
  now = 6500
  t.false(active())
})

test('rateLimit: entry fields, then the plugin’s, then the defaults; validated', (t) => {
  const entry = { name: 's3', use: 's3', batch: { maxBytes: 1000 }, rateLimit: { burstBytes: 50 } }
  const [cfg] = resolveSubscriberConfigs([entry])
  t.is(withPluginRateLimit(cfg!, undefined).rateLimit.limit, undefined, 'no bytesPerSec: no limit')
  t.deepEqual(withPluginRateLimit(cfg!, { bytesPerSec: 9, burstBytes: 7, when: 'always' }).rateLimit.limit, {
    bytesPerSec: 9,
    burstBytes: 50,
    when: 'always',
  })
  const [bare] = resolveSubscriberConfigs([{ name: 'a', use: 'x', batch: { maxBytes: 1000 } }])
  t.deepEqual(withPluginRateLimit(bare!, { bytesPerSec: 9 }).rateLimit.limit, {
    bytesPerSec: 9,
    burstBytes: 1000,
    when: 'ingesting',
  })
  const [off] = resolveSubscriberConfigs([{ name: 'b', use: 'x', rateLimit: { bytesPerSec: 0 } }])
  t.is(withPluginRateLimit(off!, { bytesPerSec: 9 }).rateLimit.limit, undefined, '0 turns a declared one off')
  for (const bad of [{ bytesPerSec: -1 }, { burstBytes: 0 }, { when: 'never' }, { rate: 1 }, 5]) {
    t.throws(() => resolveSubscriberConfigs([{ name: 'c', use: 'x', rateLimit: bad as never }]), {
      code: 'MI_ERR_SUBSCRIBER_OPT_INVALID',
    })
  }
})
