/**
 * Retention follows the log: rows whose lsns the log no longer holds are dropped, by the
 * subscriber (with `logDir`) and never shown by the query side meanwhile.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createTestHarness } from '@module-ingest/subscriber-sdk/testkit'
import test from 'ava'
import sub, { IndexReader, oldestLogLsn } from '../src/index.ts'
import { all, at, memorySource, tempDir } from './_helpers.ts'

const seg = (base: number) => `${String(base).padStart(20, '0')}.seg`

test('oldestLogLsn is the oldest segment base (1 without segments)', (t) => {
  const dir = tempDir(t)
  t.is(oldestLogLsn(dir), 1)
  for (const b of [41, 1001, 7]) writeFileSync(join(dir, seg(b)), '')
  writeFileSync(join(dir, `${seg(3)}.cut-100`), '')
  writeFileSync(join(dir, 'checkpoint.0'), '')
  t.is(oldestLogLsn(dir), 7)
})

test('runs and rollup minutes below the oldest segment are pruned when all their records are gone', async (t) => {
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
  // Records 1..10 in seconds 0..9 of minute 0 (one batch: one run), 11..20 all in second 60.
  const recs = Array.from({ length: 20 }, (_, i) => ({
    lsn: i + 1,
    ts: at(i < 10 ? i : 60),
    body: JSON.stringify({ v: i + 1 }),
  }))
  await h.deliver(recs.slice(0, 10))
  await h.deliver(recs.slice(10))
  // Retention removed the first segment: the log now starts at lsn 15.
  rmSync(join(logDir, seg(1)))
  writeFileSync(join(logDir, seg(15)), '')
  await new Promise((r) => setTimeout(r, 150))
  recs.push({ lsn: 21, ts: at(61), body: '{"v":21}' })
  await h.deliver(recs.slice(20))
  // The run 1..10 is gone; the run 11..20 straddles the cut and stays whole.
  t.is(h.metrics.counters.records_pruned_total, 10)

  const r = new IndexReader(path)
  t.teardown(() => r.close())
  const log = memorySource(recs, 15)
  const found = await r.records({ streams: all, fromUs: at(0), toUs: at(120), limit: 100, minLsn: 15 }, log)
  t.deepEqual(
    found.records.map((x) => x.lsn),
    [15, 16, 17, 18, 19, 20, 21],
  )
  const sums = r.range({
    streams: all,
    field: 'v',
    fromUs: at(0),
    toUs: at(120),
    stepUs: 1_000_000,
    agg: 'count',
    limit: 200,
    maxSeries: 1,
  })
  // Minute 0 held only lsns 1..10: gone. Minute 1 straddles the cut (lsns 11..21): kept whole.
  t.deepEqual(sums.series[0]!.points, [
    [at(60), 10],
    [at(61), 1],
  ])
})
