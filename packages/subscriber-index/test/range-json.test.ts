/**
 * `rangeJson` (the HTTP range reply, cached per minute) of a long-lived reader must be byte for
 * byte `JSON.stringify(range(q).series)` (the object path) of a fresh reader, for random data and
 * queries, while late records rewrite minutes it cached, retention drops them and a new module
 * (names, series) appears.
 */
import { join } from 'node:path'
import { seededRandom } from '@module-ingest/testing/random'
import test from 'ava'
import { type Aggregation, IndexReader, IndexWriter, kAggregations, type RangeQuery } from '../src/index.ts'
import { denseValues } from '../src/range.ts'
import { all, at, tempDir } from './_helpers.ts'

// Values beyond ±1e290 add no point (1e300, ±1.7e308): before, +-1.7e308 in one second made a
// NaN sum that SQLite refused (NOT NULL rollup.sum) on every redelivery.
const kValues = [
  '0',
  '-0',
  '1.5',
  '-2.25',
  '1e-7',
  '123456789.123',
  '0.1',
  '1e300',
  '-1e300',
  '1e999',
  '42',
  '1.7e308',
  '-1.7e308',
]

test('rangeJson equals JSON.stringify(range().series) on random data, late records and retention', (t) => {
  const seed = Number(process.env.MI_SEED ?? Date.now() % 100_000)
  t.log(`seed ${seed} (MI_SEED=${seed} replays)`)
  const rand = seededRandom(seed)
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!
  const path = join(tempDir(t), 'i.sqlite')
  const w = new IndexWriter(path, { fields: ['temp', 'load'] })
  const r = new IndexReader(path)
  t.teardown(() => {
    r.close()
    w.close()
  })
  let lsn = 0
  // A module (new names, new series) appears after the reader has cached what it saw.
  const modules = ['m-0', 'm-1', 'm-2']
  const batch = (n: number, spanS: number) => {
    const recs = Array.from({ length: n }, () => {
      const body: Record<string, unknown> = {}
      if (rand() < 0.9) body.temp = pick(kValues)
      if (rand() < 0.5) body.load = pick(kValues)
      const text = `{${Object.entries(body)
        .map(([k, v]) => `"${k}":${v}`)
        .join(',')}}`
      return {
        lsn: ++lsn,
        stream: pick(['s.a', 's.b']),
        module: pick(modules),
        core: '',
        ts: at(rand() * spanS),
        body: Buffer.from(text),
      }
    })
    w.apply(recs)
  }
  const check = (round: number) => {
    // The reference: a reader opened now (no caches), its object path.
    const ref = new IndexReader(path)
    for (let i = 0; i < 40; i++) {
      const from = at(-30 + rand() * 600)
      const q: RangeQuery = {
        streams: rand() < 0.3 ? (s) => s === 's.a' : all,
        ...(rand() < 0.7 ? { module: pick([...modules, 'm-new', 'absent']) } : {}),
        field: pick(['temp', 'load', 'nope']),
        fromUs: from,
        toUs: from + 1 + Math.floor(rand() * 700e6),
        // Mostly the cached 1 s path; other steps take the object path inside rangeJson.
        stepUs: rand() < 0.8 ? 1e6 : pick([2e6, 60e6, 7e6]),
        agg: pick(kAggregations) as Aggregation,
        limit: 1 + Math.floor(rand() * 800),
        maxSeries: rand() < 0.1 ? 1 : 100,
      }
      const { series, ...rest } = ref.range(q)
      const json = r.rangeJson(q)
      const { seriesJson, ...restJson } = json
      t.deepEqual(restJson, rest, `round ${round} query ${i}`)
      t.is(
        Buffer.concat(seriesJson).toString(),
        JSON.stringify(series),
        `round ${round} query ${i}: ${JSON.stringify(q)}`,
      )
      // The long-lived reader's object path too (shares the name and series caches).
      t.deepEqual(r.range(q).series, series)
      // format=values: the same buckets, one value per bucket of the page, null where empty.
      const end = rest.nextFromUs ?? rest.toUs
      const values = r.rangeJson({ ...q, format: 'values' })
      t.is(
        Buffer.concat(values.seriesJson).toString(),
        JSON.stringify(
          series.map(({ points, ...s }) => ({
            ...s,
            values: denseValues(points, rest.fromUs, end, q.stepUs),
          })),
        ),
        `values: round ${round} query ${i}: ${JSON.stringify(q)}`,
      )
    }
    ref.close()
  }
  // Ten minutes of data in batches, queried after each: the cache is filled, then late records
  // (times anywhere in the ten minutes) rewrite minutes it holds.
  for (let round = 0; round < 6; round++) {
    if (round === 3) modules.push('m-new')
    batch(400, 600)
    check(round)
  }
  // Retention drops minutes (rows whose newest lsn is gone), then new records re-create some.
  w.prune(Math.floor(lsn * 0.6))
  check(6)
  batch(300, 600)
  check(7)
})

test('denseValues: one value per bucket of the page, null where there is none', (t) => {
  t.deepEqual(
    denseValues(
      [
        [10, 1],
        [30, 2],
      ],
      0,
      50,
      10,
    ),
    [null, 1, null, 2, null],
  )
  t.deepEqual(denseValues([], 0, 20, 10), [null, null])
})
