/**
 * Retention follows the log: rows whose lsns the log no longer holds are dropped, by the
 * subscriber (with `logDir`) and never shown by the query side meanwhile.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createTestHarness } from '@module-ingest/subscriber-sdk/testkit'
import test from 'ava'
import sub, { IndexReader, oldestLogLsn } from '../src/index.ts'
import { all, at, tempDir } from './_helpers.ts'

const seg = (base: number) => `${String(base).padStart(20, '0')}.seg`

test('oldestLogLsn is the oldest segment base (1 without segments)', (t) => {
  const dir = tempDir(t)
  t.is(oldestLogLsn(dir), 1)
  for (const b of [41, 1001, 7]) writeFileSync(join(dir, seg(b)), '')
  writeFileSync(join(dir, `${seg(3)}.cut-100`), '')
  writeFileSync(join(dir, 'checkpoint.0'), '')
  t.is(oldestLogLsn(dir), 7)
})

test('rows below the oldest segment are pruned, rollup buckets when all their records are gone', async (t) => {
  const dir = tempDir(t)
  const logDir = join(dir, 'log')
  mkdirSync(logDir)
  writeFileSync(join(logDir, seg(1)), '')
  const path = join(dir, 'idx.sqlite')
  const h = createTestHarness(sub, {
    name: 'idx-retention',
    config: { path, fields: ['v'], logDir, retentionCheckMs: 100 },
  })
  await h.init()
  t.teardown(() => h.close())
  // Records 1..10 in second 0..9 (one per bucket), 11..20 all in second 10.
  await h.deliver(
    Array.from({ length: 20 }, (_, i) => ({ ts: at(Math.min(i, 10)), body: JSON.stringify({ v: i + 1 }) })),
  )
  // Retention removed the first segment: the log now starts at lsn 15.
  rmSync(join(logDir, seg(1)))
  writeFileSync(join(logDir, seg(15)), '')
  await new Promise((r) => setTimeout(r, 150))
  await h.deliver([{ lsn: 21, ts: at(11), body: '{"v":21}' }])
  t.is(h.metrics.counters.records_pruned_total, 14)

  const r = new IndexReader(path)
  t.teardown(() => r.close())
  const recs = r.records({ streams: all, fromUs: at(0), toUs: at(60), limit: 100, minLsn: 1 })
  t.deepEqual(
    recs.records.map((x) => x.lsn),
    [15, 16, 17, 18, 19, 20, 21],
  )
  const sums = r.range({
    streams: all,
    field: 'v',
    fromUs: at(0),
    toUs: at(60),
    stepUs: 1_000_000,
    agg: 'count',
    limit: 100,
    maxSeries: 1,
  })
  // Buckets 0..9 held only lsns 1..10: gone. Bucket 10 straddles the cut (lsns 11..20): kept whole.
  t.deepEqual(sums.series[0]!.points, [
    [at(10), 10],
    [at(11), 1],
  ])
})
