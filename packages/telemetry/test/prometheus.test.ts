import test from 'ava'
import { Metrics } from '../src/index.ts'
import { parsePrometheus } from './fixtures/parse-prometheus.ts'

test('exposition parses back: counters, labelled counters, gauges, summaries', (t) => {
  const m = new Metrics()
  m.counter('mi_frames_total', 'Frames parsed').inc(42)
  const e = m.counter('mi_errors_total', 'Errors by "code"\nsecond line', ['code'])
  e.inc({ code: 'BAD_MAC' }, 3)
  e.inc({ code: 'we"ird\\name' })
  m.gauge('mi_connections', 'Open connections').set(7)
  const h = m.histogram('mi_flush_latency_us', 'Flush latency', { unit: 'us' })
  for (let i = 1; i <= 100; i++) h.record(i * 10)
  m.histogram('mi_idle_us', 'Never recorded', { unit: 'us' })

  const text = m.toPrometheus()
  t.true(text.endsWith('\n'))
  const { help, type, samples } = parsePrometheus(text)
  t.is(type.get('mi_frames_total'), 'counter')
  t.is(type.get('mi_connections'), 'gauge')
  t.is(type.get('mi_flush_latency_us'), 'summary')
  t.is(help.get('mi_errors_total'), 'Errors by "code"\nsecond line')
  const get = (name: string, labels: Record<string, string> = {}) =>
    samples.find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels))?.value
  t.is(get('mi_frames_total'), 42)
  t.is(get('mi_errors_total', { code: 'BAD_MAC' }), 3)
  t.is(get('mi_errors_total', { code: 'we"ird\\name' }), 1)
  t.is(get('mi_connections'), 7)
  t.is(get('mi_flush_latency_us_count'), 100)
  t.is(get('mi_flush_latency_us_sum'), 50500)
  t.true(Math.abs((get('mi_flush_latency_us', { quantile: '0.5' }) ?? 0) - 500) <= 1)
  t.true(Math.abs((get('mi_flush_latency_us', { quantile: '0.99' }) ?? 0) - 990) <= 1)
  t.true(Math.abs((get('mi_flush_latency_us', { quantile: '1' }) ?? 0) - 1000) <= 1)
  t.true(Number.isNaN(get('mi_idle_us', { quantile: '0.999' })))
  t.is(get('mi_idle_us_count'), 0)
  // Every sample belongs to a declared family, declared once.
  const families = text
    .split('\n')
    .filter((l) => l.startsWith('# TYPE'))
    .map((l) => l.split(' ')[2])
  t.is(new Set(families).size, families.length)
  for (const s of samples) t.true(type.has(s.name.replace(/_(sum|count)$/, '')) || type.has(s.name))
})
