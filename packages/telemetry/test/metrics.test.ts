import test from 'ava'
import { Metrics } from '../src/index.ts'

test('counters count, with and without labels', (t) => {
  const m = new Metrics()
  const c = m.counter('mi_frames_total', 'Frames')
  c.inc()
  c.inc(4)
  t.is(c.get(), 5)
  const e = m.counter('mi_errors_total', 'Errors', ['code'])
  e.inc({ code: 'BAD_MAC' })
  e.inc({ code: 'BAD_MAC' }, 2)
  e.labels({ code: 'AUTH_FAILED' }).inc()
  t.is(e.get({ code: 'BAD_MAC' }), 3)
  t.is(e.get({ code: 'AUTH_FAILED' }), 1)
  t.is(e.get({ code: 'NONE' }), 0)
  t.throws(() => e.inc(), { code: 'MI_ERR_TELEMETRY_LABELS' })
  t.throws(() => e.inc({ code: 'x', other: 'y' }), { code: 'MI_ERR_TELEMETRY_LABELS' })
  t.throws(() => c.inc({ code: 'x' }), { code: 'MI_ERR_TELEMETRY_LABELS' })
})

test('names follow <namespace>_<name>_<unit>[_total]', (t) => {
  const m = new Metrics()
  t.throws(() => m.counter('mi_frames', 'x'), { code: 'MI_ERR_TELEMETRY_METRIC_NAME' })
  t.throws(() => m.counter('Mi-Frames_total', 'x'), { code: 'MI_ERR_TELEMETRY_METRIC_NAME' })
  t.throws(() => m.histogram('mi_flush_latency', 'x', { unit: 'us' }), {
    code: 'MI_ERR_TELEMETRY_METRIC_NAME',
  })
  t.throws(() => m.counter('mi_x_total', 'x', ['quantile']), { code: 'MI_ERR_TELEMETRY_LABELS' })
  const c = m.counter('mi_x_total', 'x')
  t.is(m.counter('mi_x_total', 'x'), c, 're-registering returns the same metric')
  t.throws(() => m.gauge('mi_x_total', 'x'), { code: 'MI_ERR_TELEMETRY_METRIC_CONFLICT' })
})

test('gauges: set, inc/dec, collect callback', (t) => {
  const m = new Metrics()
  const g = m.gauge('mi_connections', 'Open connections')
  g.set(3)
  g.inc()
  g.dec(2)
  t.is(g.get(), 2)
  let depth = 7
  m.gauge('mi_ring_used_bytes', 'Ring fill', { collect: (x) => x.set(depth) })
  const read = () => m.summary().gauges.find((s) => s.name === 'mi_ring_used_bytes')?.value
  t.is(read(), 7)
  depth = 9
  t.is(read(), 9)
})

test('histograms record microseconds and report p50/p99/p999/max', (t) => {
  const m = new Metrics()
  const h = m.histogram('mi_flush_latency_us', 'Flush latency', { unit: 'us' })
  for (let i = 1; i <= 1000; i++) h.record(i)
  const s = h.stats()
  t.is(s.count, 1000)
  t.is(s.sum, 500500)
  t.true(Math.abs(s.p50 - 500) <= 1)
  t.true(Math.abs(s.p99 - 990) <= 1)
  t.true(Math.abs(s.p999 - 999) <= 1)
  t.true(Math.abs(s.max - 1000) <= 1)
  h.recordSince(process.hrtime.bigint())
  t.is(h.stats().count, 1001)
  const empty = m.histogram('mi_empty_us', 'x', { unit: 'us' }).stats()
  t.deepEqual(empty, { count: 0, sum: 0, p50: 0, p99: 0, p999: 0, max: 0 })
})

test('snapshot is plain data and merge adds it up', (t) => {
  const a = new Metrics()
  a.counter('mi_frames_total', 'Frames').inc(2)
  a.counter('mi_errors_total', 'Errors', ['code']).inc({ code: 'X' })
  a.gauge('mi_connections', 'Conns').set(4)
  a.histogram('mi_lat_us', 'Latency', { unit: 'us' }).record(100)
  const snap = a.snapshot()
  t.deepEqual(structuredClone(snap), snap)
  t.deepEqual(JSON.parse(JSON.stringify(snap)), snap)
  t.is(typeof snap.histograms[0]?.hdr, 'string')

  const b = new Metrics()
  b.counter('mi_frames_total', 'Frames').inc(1)
  b.merge(snap)
  b.merge(snap)
  t.is(b.counter('mi_frames_total', 'Frames').get(), 5)
  t.is(b.counter('mi_errors_total', 'Errors', ['code']).get({ code: 'X' }), 2)
  t.is(b.gauge('mi_connections', 'Conns').get(), 8)
  const h = b.histogram('mi_lat_us', 'Latency', { unit: 'us' }).stats()
  t.is(h.count, 2)
  t.is(h.sum, 200)
  t.throws(() => b.merge({ v: 2 } as never), { code: 'MI_ERR_TELEMETRY_SNAPSHOT' })
})

test('a snapshot re-encodes a histogram only when it changed, and always reads back what it holds', (t) => {
  const a = new Metrics()
  const h = a.histogram('mi_lat_us', 'Latency', { unit: 'us' })
  h.record(100)
  const first = a.snapshot().histograms[0]!.hdr
  t.is(a.snapshot().histograms[0]!.hdr, first, 'unchanged: the same encoding')
  h.record(0) // a value that leaves the sum alone still changes the histogram
  const second = a.snapshot().histograms[0]!.hdr
  t.not(second, first)
  const b = new Metrics()
  b.merge(a.snapshot())
  t.like(b.histogram('mi_lat_us', 'Latency', { unit: 'us' }).stats(), { count: 2, sum: 100, max: 100 })
})

test('mergeFrom keeps the latest snapshot per source; a restarted source never makes totals go back', (t) => {
  const main = new Metrics()
  main.counter('mi_frames_total', 'Frames').inc(1)
  const w = new Metrics()
  const c = w.counter('mi_frames_total', 'Frames')
  c.inc(10)
  main.mergeFrom('parser-0', w.snapshot())
  c.inc(5)
  main.mergeFrom('parser-0', w.snapshot())
  const total = () => main.summary().counters.find((s) => s.name === 'mi_frames_total')?.value
  t.is(total(), 16)
  // The worker restarts: a new registry starting from zero.
  const w2 = new Metrics()
  w2.counter('mi_frames_total', 'Frames').inc(2)
  main.mergeFrom('parser-0', w2.snapshot())
  t.is(total(), 18)
  main.retire('parser-0')
  t.deepEqual(main.sources, [])
  t.is(total(), 18)
  t.is(main.counter('mi_frames_total', 'Frames').get(), 18)
})

test('toTable renders counters, gauges and histograms', (t) => {
  const m = new Metrics()
  m.counter('mi_frames_total', 'Frames').inc(1234)
  m.counter('mi_errors_total', 'Errors', ['code']).inc({ code: 'BAD_MAC' })
  m.histogram('mi_flush_latency_us', 'Flush', { unit: 'us' }).record(250)
  const table = m.toTable()
  t.regex(table, /mi_frames_total\s+1,234/)
  t.regex(table, /mi_errors_total\{code=BAD_MAC\}\s+1/)
  t.regex(table, /HISTOGRAM\s+COUNT\s+P50\s+P99\s+P999\s+MAX/)
  t.regex(table, /mi_flush_latency_us\s+1\s+250\s+250\s+250\s+250/)
  t.is(new Metrics().toTable(), '(no metrics)\n')
})
