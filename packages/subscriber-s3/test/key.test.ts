import test from 'ava'
import { compileKey, DEFAULT_KEY_TEMPLATE, keyTemplateProblem, parseS3Config } from '../src/index.ts'
import { mergeRanges, planGroup } from '../src/plan.ts'

const kc = { prefix: 'p', source: 'edge-1', ext: 'ndjson.zst', timeField: 'rts' as const }
const rec = (lsn: number, stream = 's', bytes = 10) => ({
  lsn,
  stream,
  module: 'm',
  core: '',
  seq: 1n,
  ts: 0,
  rts: Date.UTC(2026, 0, 2, 3, 4) * 1000,
  body: new Uint8Array(bytes),
})

test('the default template renders the documented key and parses its range back', (t) => {
  const k = compileKey(DEFAULT_KEY_TEMPLATE, kc)
  const group = k.groupOf(rec(1, 'telemetry.gps'))
  t.is(group, 'p/telemetry.gps/2026/01/02/03/edge-1-')
  const key = k.keyOf(group, 7, 1234)
  t.is(key, 'p/telemetry.gps/2026/01/02/03/edge-1-000000000007-000000001234.ndjson.zst')
  t.deepEqual(k.rangeOf(group, key), { first: 7, last: 1234 })
  t.is(k.rangeOf(group, `${group}000000000007-000000001234.ndjson.gz`), undefined, 'other format: not ours')
  t.is(k.rangeOf(group, 'p/other/x'), undefined)
  t.is(k.root, 'p/')
  t.true(k.own.test(key))
  t.false(k.own.test(key.replace('edge-1', 'edge-2')), 'another source is never swept')
})

test('an empty prefix leaves no leading or double slash; stream names stay one path segment', (t) => {
  const k = compileKey(DEFAULT_KEY_TEMPLATE, { ...kc, prefix: '' })
  t.is(k.groupOf(rec(1, 'a/b')), 'a_b/2026/01/02/03/edge-1-')
  t.is(k.root, '')
  t.true(k.own.test(k.keyOf(k.groupOf(rec(1)), 1, 2)))
})

test('groupOf keeps rendered prefixes: interleaved streams, modules, cores and minutes still get their own', (t) => {
  const template = '{prefix}/{stream}/{module}/{core}/{hh}{mi}/{firstLsn}-{lastLsn}'
  const k = compileKey(template, kc)
  const t0 = Date.UTC(2026, 0, 2, 3, 4) * 1000
  for (let i = 0; i < 3000; i++) {
    const r = {
      ...rec(i, `s${i % 3}`),
      module: `m${i % 5}`,
      core: i % 7 === 0 ? '' : 'c',
      rts: t0 + ((i * 7919) % 600) * 1_000_000, // ten minutes, out of order
    }
    // A fresh compile has nothing kept: what groupOf must render.
    t.is(k.groupOf(r), compileKey(template, kc).groupOf(r), `record ${i}`)
  }
  t.is(k.groupOf({ ...rec(1, 'a'), module: 'b', core: '' }), 'p/a/b/_/0304/')
})

test('templates that would break retries are refused with a reason', (t) => {
  t.is(keyTemplateProblem(DEFAULT_KEY_TEMPLATE), undefined)
  t.is(keyTemplateProblem('{prefix}/{module}/{mi}/{firstLsn}_{lastLsn}'), undefined)
  t.regex(keyTemplateProblem('{prefix}/{stream}.ndjson')!, /must contain \{firstLsn\}/)
  t.regex(keyTemplateProblem('{prefix}/{firstLsn}{lastLsn}')!, /separator/)
  t.regex(keyTemplateProblem('{prefix}/{firstLsn}-{lastLsn}/{stream}')!, /only \{ext\}/)
  t.regex(keyTemplateProblem('{prefix}/{nope}/{firstLsn}-{lastLsn}')!, /unknown placeholder \{nope\}/)
  const err = t.throws(() => parseS3Config({ bucket: 'b-1', key: '{stream}' }))
  t.regex(err.message, /firstLsn/)
})

test('planGroup skips stored ranges and never lets a new object span one', (t) => {
  const recs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => rec(n))
  const limits = { maxObjectRecords: 100, maxObjectBytes: 1 << 20 }
  const size = () => 10
  const plain = planGroup('g', recs, [], limits, size)
  t.deepEqual(
    plain.objects.map((o) => [o.firstLsn, o.lastLsn]),
    [[1, 10]],
  )
  // Stored earlier: 3..4 and 7..7 (e.g. before a crash). 5..6 between them must become its own object.
  const plan = planGroup(
    'g',
    recs,
    [
      { first: 7, last: 7 },
      { first: 3, last: 4 },
    ],
    limits,
    size,
  )
  t.is(plan.skipped, 3)
  t.deepEqual(
    plan.objects.map((o) => [o.firstLsn, o.lastLsn]),
    [
      [1, 2],
      [5, 6],
      [8, 10],
    ],
  )
  // A stored range in a gap of this group's lsns (other streams' records) still cuts the object.
  const sparse = [1, 4, 9].map((n) => rec(n))
  t.deepEqual(
    planGroup('g', sparse, [{ first: 2, last: 3 }], limits, size).objects.map((o) => [o.firstLsn, o.lastLsn]),
    [
      [1, 1],
      [4, 9],
    ],
  )
  const bySize = planGroup('g', recs, [], { maxObjectRecords: 4, maxObjectBytes: 25 }, size)
  t.deepEqual(
    bySize.objects.map((o) => o.records.length),
    [2, 2, 2, 2, 2],
  )
  t.deepEqual(
    mergeRanges([
      { first: 5, last: 9 },
      { first: 1, last: 2 },
      { first: 3, last: 6 },
    ]),
    [{ first: 1, last: 9 }],
  )
})
