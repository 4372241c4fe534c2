/**
 * The write side through the SDK test kit (no server): rollups, latest values, records, and
 * redelivery that must not double-count.
 */
import { join } from 'node:path'
import { createTestHarness } from '@module-ingest/subscriber-sdk/testkit'
import test from 'ava'
import sub, { IndexReader } from '../src/index.ts'
import { all, at, memorySource, tempDir } from './_helpers.ts'

test('rollups, latest and records; a redelivered batch changes nothing', async (t) => {
  const path = join(tempDir(t), 'idx.sqlite')
  const h = createTestHarness(sub, { name: 'idx-rollups', config: { path, fields: ['temp', 'env.hum'] } })
  await h.init()
  t.teardown(() => h.close())
  const recs = Array.from({ length: 30 }, (_, i) => ({
    lsn: i + 1,
    stream: i % 2 ? 'telemetry.kiln' : 'telemetry.dryer',
    module: 'kiln-7',
    ts: at(i * 0.5), // two records per second
    body: JSON.stringify({ temp: i, env: { hum: 100 - i } }),
  }))
  await h.deliver(recs.slice(0, 20))
  await h.redeliver() // at-least-once: the same records again
  await h.deliver([...recs.slice(10, 30)]) // overlapping: 11..20 are old, 21..30 new
  t.deepEqual(
    h.deliveries.map((d) => d.outcome),
    ['ok', 'ok', 'ok'],
  )
  t.is(h.metrics.counters.records_indexed_total, 30)
  t.is(h.metrics.counters.duplicates_skipped_total, 30)

  const r = new IndexReader(path)
  t.teardown(() => r.close())
  t.deepEqual(r.status(), { appliedLsn: 30, modules: 1, series: 4 })
  const kiln = r.range({
    streams: (s) => s === 'telemetry.kiln',
    field: 'temp',
    fromUs: at(0),
    toUs: at(15),
    stepUs: 5_000_000,
    agg: 'sum',
    limit: 100,
    maxSeries: 10,
  })
  t.is(kiln.source, 'rollup_1s')
  // odd i in [0,10) → 1+3+5+7+9, [10,20) → 11+..+19, [20,30) → 21+..+29
  t.deepEqual(kiln.series[0]!.points, [
    [at(0), 25],
    [at(5), 75],
    [at(10), 125],
  ])
  const count = r.range({
    streams: all,
    field: 'env.hum',
    fromUs: at(0),
    toUs: at(60),
    stepUs: 60_000_000,
    agg: 'count',
    limit: 10,
    maxSeries: 10,
  })
  t.is(count.source, 'rollup_1m')
  t.deepEqual(
    count.series.map((s) => s.points),
    [[[at(0), 15]], [[at(0), 15]]],
  )
  const latest = r.series({ streams: all, field: 'temp', limit: 10 })
  t.deepEqual(
    latest.series.map((s) => [s.stream, s.value]),
    [
      ['telemetry.dryer', 28],
      ['telemetry.kiln', 29],
    ],
  )
  const log = memorySource(recs)
  const page1 = await r.records({ streams: all, fromUs: at(0), toUs: at(100), limit: 25, minLsn: 1 }, log)
  t.is(page1.records.length, 25)
  t.deepEqual(page1.next, { ts: at(12), lsn: 25 })
  const page2 = await r.records(
    { streams: all, fromUs: at(0), toUs: at(100), limit: 25, minLsn: 1, after: page1.next! },
    log,
  )
  t.deepEqual(
    page2.records.map((x) => x.lsn),
    [26, 27, 28, 29, 30],
  )
  t.is(page2.next, undefined)
})

test('a step under the rollups needs raw points; with rawPoints they answer it', async (t) => {
  const dir = tempDir(t)
  for (const rawPoints of [false, true]) {
    const path = join(dir, `raw-${rawPoints}.sqlite`)
    const h = createTestHarness(sub, {
      name: `idx-raw-${rawPoints}`,
      config: { path, fields: ['v'], rawPoints },
    })
    await h.init()
    await h.deliver(Array.from({ length: 10 }, (_, i) => ({ ts: at(i * 0.1), body: `{"v":${i}}` })))
    await h.close()
    const r = new IndexReader(path)
    const out = r.range({
      streams: all,
      field: 'v',
      fromUs: at(0),
      toUs: at(1),
      stepUs: 500_000,
      agg: 'max',
      limit: 10,
      maxSeries: 1,
    })
    r.close()
    if (!rawPoints) t.true(out.noRawPoints)
    else
      t.deepEqual(out.series[0]!.points, [
        [at(0), 4],
        [at(0.5), 9],
      ])
  }
})

test('bodies that are not JSON objects, and non-numeric fields, add no points but are indexed', async (t) => {
  const path = join(tempDir(t), 'idx.sqlite')
  const h = createTestHarness(sub, { name: 'idx-bodies', config: { path, fields: ['v'] } })
  await h.init()
  await h.deliver([
    { body: 'plain text' },
    { body: '[1,2]' },
    { body: '{"v":"7"}' },
    { body: '{"v":1e999}' },
    { body: '{not json' },
    { body: new Uint8Array([0xff, 0x00]) },
    { body: ' {"v": 3}' },
  ])
  t.is(h.metrics.counters.records_indexed_total, 7)
  t.is(h.metrics.counters.points_indexed_total, 1)
  await h.close()
})

test('a ts above 2^53-1 (any MIP/1 u64) is indexed as 2^53-1, never a crash', async (t) => {
  const path = join(tempDir(t), 'idx.sqlite')
  const h = createTestHarness(sub, { name: 'idx-ts64', config: { path, fields: ['temp'] } })
  await h.init()
  t.teardown(() => h.close())
  const recs = [at(1), 2n ** 53n, 2n ** 64n - 1n].map((ts, i) => ({
    lsn: i + 1,
    stream: 'telemetry.kiln',
    module: 'kiln-7',
    ts,
    body: JSON.stringify({ temp: i }),
  }))
  await h.deliver(recs)
  t.deepEqual(
    h.deliveries.map((d) => d.outcome),
    ['ok'],
  )
  const r = new IndexReader(path)
  t.teardown(() => r.close())
  // Found by the clamped value; the records come from the log with their exact ts.
  const got = await r.records(
    { streams: all, fromUs: 0, toUs: 2 ** 53, limit: 10, minLsn: 1 },
    memorySource(recs),
  )
  t.deepEqual(
    got.records.map((x) => [x.lsn, x.ts]),
    [
      [1, at(1)],
      [2, 2n ** 53n],
      [3, 2n ** 64n - 1n],
    ],
  )
  t.is(got.next, undefined)
})
