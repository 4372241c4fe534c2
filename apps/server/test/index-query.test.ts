/**
 * The index subscriber end to end: a real `module-ingest serve` process, records over MIP/1,
 * queries over HTTP (and through `module-ingest query`), checked against a brute-force scan of the
 * log; auth, bad parameters and pagination. (The crash test is index-crash.test.ts.)
 */
import type { StoredRecord } from '@module-ingest/log'
import test from 'ava'
import fc from 'fast-check'
import { get, ingest, kFields, logRecords, type Setup, setup, T0, waitApplied } from './_api-server.ts'
import { runCli } from './_run.ts'

const run = (args: string[]) => runCli(args, { timeoutMs: 90_000 })

function bruteRange(
  recs: StoredRecord[],
  q: { stream: string; module: string; field: string; from: number; to: number; step: number; agg: string },
) {
  const from = q.from - (q.from % q.step)
  const buckets = new Map<number, Array<{ ts: number; lsn: number; v: number }>>()
  for (const r of recs) {
    const ts = Number(r.ts) // this test's records are all below 2^53
    // Whole buckets: a bucket is in when it starts before `to`.
    if (r.stream !== q.stream || r.module !== q.module || ts < from || ts - (ts % q.step) >= q.to) continue
    let v: unknown
    try {
      v = (JSON.parse(Buffer.from(r.body).toString()) as Record<string, unknown>)[q.field]
    } catch {
      continue
    }
    if (typeof v !== 'number') continue
    const t = ts - (ts % q.step)
    buckets.set(t, [...(buckets.get(t) ?? []), { ts, lsn: r.lsn, v }])
  }
  return [...buckets.keys()]
    .sort((a, b) => a - b)
    .map((t) => {
      const l = buckets.get(t)!
      const vs = l.map((p) => p.v)
      const sum = vs.reduce((a, c) => a + c, 0)
      const last = l.reduce((a, c) => (c.ts > a.ts || (c.ts === a.ts && c.lsn > a.lsn) ? c : a)).v
      const value = {
        avg: sum / vs.length,
        min: Math.min(...vs),
        max: Math.max(...vs),
        sum,
        count: vs.length,
        last,
      }[q.agg]
      return [t, value]
    })
}

// One server with one hour of data for the query tests (each test's result resets AVA's timer).
const cleanups: Array<() => unknown> = []
test.after.always(async () => {
  for (const fn of cleanups.reverse()) await fn()
})
let shared: Promise<{ s: Setup; recs: StoredRecord[] }> | undefined
function queryServer() {
  shared ??= (async () => {
    const s = await setup((fn) => cleanups.push(fn), 'query')
    await ingest(s, ['kiln-7', 'kiln-8'], 1500, 3600) // one hour of producer time
    const recs = await logRecords(s.dataDir)
    await waitApplied(s, recs.at(-1)!.lsn)
    return { s, recs }
  })()
  return shared
}
const kFrom = T0 + 600e6
const kTo = T0 + 900e6
const readable = (recs: StoredRecord[]) =>
  recs
    .filter((r) => r.stream.startsWith('telemetry.') && r.ts >= kFrom && r.ts < kTo)
    .sort((a, b) => Number(a.ts) - Number(b.ts) || a.lsn - b.lsn)

test('range queries over HTTP equal a brute-force scan of the log (property)', async (t) => {
  t.timeout(300_000, 'a loaded machine: server start, ingest and indexing are slow')
  const { s, recs } = await queryServer()
  t.is(recs.length, 3000)

  // Property: random ranges, steps and aggregations equal the brute-force answer.
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('telemetry.kiln', 'telemetry.dryer'),
      fc.constantFrom('kiln-7', 'kiln-8'),
      fc.constantFrom(...kFields),
      fc.integer({ min: -60, max: 3600 }),
      fc.integer({ min: 1, max: 3700 }),
      fc.constantFrom(1, 2, 5, 60, 120, 600),
      fc.constantFrom('avg', 'min', 'max', 'sum', 'count', 'last'),
      async (stream, module, field, fromS, lenS, stepS, agg) => {
        const q = {
          stream,
          module,
          field,
          from: T0 + fromS * 1e6,
          to: T0 + (fromS + lenS) * 1e6,
          step: stepS * 1e6,
          agg,
        }
        const r = await get(
          s,
          `/index/v1/range?stream=${stream}&module=${module}&field=${field}&from=${q.from}&to=${q.to}&step=${stepS}s&agg=${agg}&limit=11000`,
        )
        if (r.status !== 200) throw new Error(JSON.stringify(r.body))
        const points = (r.body.series[0]?.points ?? []) as Array<[number, number]>
        const want = bruteRange(recs, q)
        if (points.length !== want.length) return false
        if (!points.every(([ts, v], i) => ts === want[i]![0] && Math.abs(v - (want[i]![1] as number)) < 1e-9))
          return false
        // format=values: the same buckets, one value per step from fromUs, null where empty.
        const v = await get(
          s,
          `/index/v1/range?stream=${stream}&module=${module}&field=${field}&from=${q.from}&to=${q.to}&step=${stepS}s&agg=${agg}&limit=11000&format=values`,
        )
        if (v.status !== 200) throw new Error(JSON.stringify(v.body))
        const values = (v.body.series[0]?.values ?? []) as Array<number | null>
        if (r.body.series.length === 0) return v.body.series.length === 0
        if (values.length !== (r.body.toUs - r.body.fromUs) / q.step) return false
        const at = new Map(points.map(([ts, x]) => [(ts - r.body.fromUs) / q.step, x]))
        return values.every((x, i) => x === (at.get(i) ?? null))
      },
    ),
    { numRuns: 30 },
  )
  t.pass()
})

test('records by time and series are paginated, complete and in order', async (t) => {
  t.timeout(300_000, 'a loaded machine: server start, ingest and indexing are slow')
  const { s, recs } = await queryServer()

  // Records by time: every page, concatenated, equals the log's readable records in (ts, lsn) order.
  const from = kFrom
  const to = kTo
  const want = readable(recs)
  const got: Array<Record<string, unknown>> = []
  let after: string | undefined
  let pages = 0
  do {
    const r = await get(
      s,
      `/index/v1/records?from=${from}&to=${to}&limit=40${after ? `&after=${after}` : ''}`,
    )
    t.is(r.status, 200)
    t.true(r.body.records.length <= 40)
    got.push(...r.body.records)
    after = r.body.next
    pages++
  } while (after)
  t.is(pages, Math.ceil(want.length / 40))
  t.deepEqual(
    got.map((r) => [r.lsn, r.stream, r.body]),
    want.map((r) => [r.lsn, r.stream, Buffer.from(r.body).toString()]),
  )
  // Range pagination: limit buckets per page, next = the following page's from.
  const p1 = await get(
    s,
    `/index/v1/range?stream=telemetry.kiln&module=kiln-7&field=temp&from=${T0}&to=${T0 + 3600e6}&step=60s&limit=50&agg=count`,
  )
  t.is(p1.body.next, String(T0 + 50 * 60e6))
  t.true(p1.body.series[0].points.every(([ts]: [number]) => ts < T0 + 50 * 60e6))

  // Latest value per (module, field), and the series list (paginated), only readable streams.
  const latest = await get(s, '/index/v1/latest?field=temp&module=kiln-8')
  t.deepEqual(latest.body.latest.map((l: { stream: string }) => l.stream).sort(), [
    'telemetry.dryer',
    'telemetry.kiln',
  ])
  const series = await get(s, '/index/v1/series?limit=3')
  t.is(series.body.series.length, 3)
  const rest = await get(s, `/index/v1/series?limit=100&after=${series.body.next}`)
  t.is(series.body.series.length + rest.body.series.length, 8) // 2 streams × 2 modules × 2 fields
  t.false(
    [...series.body.series, ...rest.body.series].some((x: { stream: string }) => x.stream === 'other.noise'),
  )
})

test('auth: 401 without a valid token, 403 without a read scope for the stream; 400 on bad parameters', async (t) => {
  t.timeout(300_000, 'a loaded machine: server start, ingest and indexing are slow')
  const { s } = await queryServer()
  // Auth: no token 401, unknown token 401, no read scope 403, a stream outside the scope 403,
  // a narrower scope sees only its stream.
  t.is((await get(s, '/index/v1/status', '')).status, 401)
  t.is((await get(s, '/index/v1/status', 'miop_bogus')).status, 401)
  t.is((await get(s, '/index/v1/status', s.writerOnly)).status, 403)
  t.is((await get(s, `/index/v1/records?stream=other.noise&from=${T0}&to=${T0 + 1e6}`)).status, 403)
  const narrow = await get(s, '/index/v1/latest?field=temp', s.narrow)
  t.deepEqual([...new Set(narrow.body.latest.map((l: { stream: string }) => l.stream))], ['telemetry.kiln'])

  // Bad parameters: 400 naming the problem.
  const bad = async (path: string, re: RegExp) => {
    const r = await get(s, path)
    t.is(r.status, 400, path)
    t.regex(r.body.error.message, re, path)
  }
  await bad('/index/v1/range?field=temp&from=yesterday', /parameter "from": expected now/)
  await bad('/index/v1/range?field=temp&from=now-1h&step=0s', /parameter "step": expected a duration/)
  await bad('/index/v1/range?field=temp&from=now-1h&step=250ms', /keeps no raw points/)
  await bad('/index/v1/range?from=now-1h', /parameter "field" is required/)
  await bad('/index/v1/range?field=temp&from=now&to=now-1h', /must be before/)
  await bad('/index/v1/range?field=temp&from=now-1h&agg=median', /parameter "agg": expected one of/)
  await bad('/index/v1/range?field=temp&from=now-1h&format=csv', /parameter "format": expected one of/)
  await bad(
    '/index/v1/records?from=now-1h&limit=5000',
    /parameter "limit": expected an integer from 1 to 1000/,
  )
  await bad('/index/v1/records?from=now-1h&after=xyz', /parameter "after"/)
  await bad('/index/v1/records?from=now-1h&colour=red', /unknown parameter "colour"/)
  t.is((await get(s, '/index/v1/nope')).status, 404)
  // The read APIs have their own listener; the metrics listener keeps /metrics and points here.
  t.is((await fetch(`${s.server.metrics}/metrics`)).status, 200)
  t.is((await fetch(`${s.server.metrics}/index/v1/status`)).status, 421)
})

test('module-ingest query: tables, --json pages, exit codes', async (t) => {
  t.timeout(300_000, 'a loaded machine: server start, ingest and indexing are slow')
  const { s, recs } = await queryServer()
  const want = readable(recs)
  // The CLI over the same API: table and --json.
  const base = ['query', '--url', s.api, '--token', s.reader]
  const range = [
    ...base,
    'range',
    '--field',
    'temp',
    '--module',
    'kiln-7',
    '--from',
    String(kFrom),
    '--to',
    String(kTo),
    '--step',
    '1m',
  ]
  const [table, json, denied, usage, points, values, valuesJson] = await Promise.all([
    run([...base, 'latest', '--field', 'load', '--module', 'kiln-7']),
    run([
      ...base,
      'records',
      '--from',
      String(kFrom),
      '--to',
      String(kTo),
      '--limit',
      '100',
      '--all',
      '--json',
    ]),
    run(['query', '--url', s.api, '--token', s.writerOnly, 'status']),
    run([...base, 'range', '--field', 'temp', '--from', 'soon']),
    run(range),
    run([...range, '--format', 'values']),
    run([...range, '--format', 'values', '--json']),
  ])
  t.is(table.code, 0, table.stderr)
  t.regex(table.stdout, /^STREAM\s+MODULE\s+FIELD\s+TIME\s+VALUE\n/)
  t.regex(table.stdout, /telemetry\.kiln\s+kiln-7\s+load\s+2026-11-22T09:5\d/)
  t.is(json.code, 0, json.stderr)
  const lines = json.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { records: unknown[] })
  t.is(lines.flatMap((l) => l.records).length, want.length)
  t.is(denied.code, 1)
  t.regex(denied.stderr, /HTTP 403: operator ops has no read:<stream> scope/)
  t.is(usage.code, 2)
  // --format values: the API's other range shape; the table is the same as from points.
  t.is(points.code, 0, points.stderr)
  t.is(values.code, 0, values.stderr)
  t.regex(points.stdout, /^TIME\s+STREAM\s+MODULE\s+FIELD\s+VALUE\n.*kiln-7\s+temp/s)
  t.is(values.stdout, points.stdout)
  const shaped = JSON.parse(valuesJson.stdout) as { series: Array<{ values?: unknown[]; points?: unknown }> }
  t.true(
    shaped.series.length > 0 && shaped.series.every((s) => Array.isArray(s.values) && s.points === undefined),
  )
})
