import { MI_ERR_PLUGIN_CONFIG_INVALID, validateSubscriberConfig } from '@module-ingest/subscriber-sdk'
import { createTestHarness } from '@module-ingest/subscriber-sdk/testkit'
import test from 'ava'
import anomaly, { type AnomalyScore, parseValue, RollingStats } from '../src/index.ts'

// Each test gets its own instance name: instance state lives in module scope, keyed by name.
let n = 0
const harness = (config: unknown = {}) => createTestHarness(anomaly, { config, name: `anomaly-${++n}` })

// A steady signal around 10 with small noise, deterministic.
const steady = (count: number, module = 'm1', stream = 'telemetry.temp') =>
  Array.from({ length: count }, (_, i) => ({ module, stream, body: String(10 + ((i % 5) - 2) * 0.1) }))

test('parses plain numbers and { value } JSON, rejects the rest', (t) => {
  const e = new TextEncoder()
  t.is(parseValue(e.encode('42.5')), 42.5)
  t.is(parseValue(e.encode(' -3e2\n')), -300)
  t.is(parseValue(e.encode('{"value": 7}')), 7)
  for (const bad of ['', 'abc', '{"value":"7"}', '{"v":1}', '{bad', 'NaN', 'Infinity', 'null']) {
    t.is(parseValue(e.encode(bad)), undefined, bad)
  }
})

test('rolling stats match a direct computation over the window', (t) => {
  const s = new RollingStats(4)
  for (const v of [1, 2, 3, 4, 5, 6, 7]) s.push(v)
  // window: 4 5 6 7
  t.is(s.count, 4)
  t.is(s.mean, 5.5)
  t.true(Math.abs(s.stddev - Math.sqrt(1.25)) < 1e-12)
})

test('emits a z-score for an outlier, nothing for normal values', async (t) => {
  const h = harness({ threshold: 3, windowSize: 50, minSamples: 10 })
  await h.init()
  t.deepEqual(await h.deliver(steady(30)), [])
  const out = await h.deliver([
    { module: 'm1', stream: 'telemetry.temp', body: '{"value": 25}', core: 'c0' },
    { module: 'm1', stream: 'telemetry.temp', body: '10.1' },
  ])
  t.is(out.length, 1)
  t.is(out[0]!.stream, 'ai.scores')
  const score = JSON.parse(out[0]!.text) as AnomalyScore
  t.like(score, { lsn: 31, module: 'm1', core: 'c0', stream: 'telemetry.temp', value: 25 })
  t.true(score.z > 3)
  t.true(Math.abs(score.mean - 10) < 0.05)
  t.like(h.metrics.counters, { scored_records_total: 32, anomalies_total: 1 })
  await h.close()
})

test('keeps separate windows per (module, stream)', async (t) => {
  const h = harness({ minSamples: 5 })
  await h.init()
  await h.deliver([
    ...steady(20, 'm1'),
    ...steady(20, 'm2', 'telemetry.hum').map((r) => ({ ...r, body: '500' })),
  ])
  // 500 is normal for m2 but far out for m1.
  const out = await h.deliver([
    { module: 'm2', stream: 'telemetry.hum', body: '500' },
    { module: 'm1', stream: 'telemetry.temp', body: '500' },
  ])
  t.deepEqual(
    out.map((e) => (JSON.parse(e.text) as AnomalyScore).module),
    ['m1'],
  )
  t.is(h.metrics.gauges.tracked_keys, 2)
})

test('respects minSamples and the output stream option', async (t) => {
  const h = harness({ minSamples: 10, outputStream: 'scores.custom' })
  await h.init()
  t.deepEqual(await h.deliver([...steady(5), { stream: 'telemetry.temp', module: 'm1', body: '1000' }]), [])
  await h.deliver(steady(10))
  const out = await h.deliver([{ stream: 'telemetry.temp', module: 'm1', body: '-1000' }])
  t.is(out[0]!.stream, 'scores.custom')
  t.true((JSON.parse(out[0]!.text) as AnomalyScore).z < -3)
})

test('counts unparsable bodies and never scores its own output stream', async (t) => {
  const h = harness()
  await h.init()
  await h.deliver([{ body: 'not a number' }, { stream: 'ai.scores', body: '1' }, { body: '1' }])
  t.like(h.metrics.counters, { unparsed_records_total: 1, scored_records_total: 1 })
})

test('redelivery after a lost attempt neither double-counts nor loses the score', async (t) => {
  const h = harness({ minSamples: 5 })
  await h.init()
  await h.deliver(steady(20))
  h.failNext() // handle runs and folds the batch in, then the delivery is lost
  const out = await h.deliver(
    [
      { module: 'm1', stream: 'telemetry.temp', body: '99' },
      { module: 'm1', stream: 'telemetry.temp', body: '10' },
    ],
    { maxAttempts: 2 },
  )
  t.is(out.length, 1, 'the retry re-emits the score the lost attempt computed')
  t.is(h.emitted.length, 1)
  t.is((JSON.parse(out[0]!.text) as AnomalyScore).value, 99)
  t.like(h.metrics.counters, { scored_records_total: 22, redelivered_records_total: 2 })
  t.deepEqual(
    h.deliveries.slice(-2).map((d) => [d.attempt, d.outcome]),
    [
      [1, 'simulated-failure'],
      [2, 'ok'],
    ],
  )
})

test('config: defaults, and precise errors', async (t) => {
  t.deepEqual(await validateSubscriberConfig(anomaly, undefined), {
    threshold: 3,
    windowSize: 100,
    minSamples: 10,
    outputStream: 'ai.scores',
    maxKeys: 10_000,
  })
  const err = await t.throwsAsync(
    validateSubscriberConfig(anomaly, { threshold: -1, windowSize: 5, minSamples: 9 }),
    {
      instanceOf: MI_ERR_PLUGIN_CONFIG_INVALID,
    },
  )
  t.regex(err!.message, /^subscriber anomaly-score: invalid config: threshold: /)
  const err2 = await t.throwsAsync(validateSubscriberConfig(anomaly, { windowSize: 5, minSamples: 9 }))
  t.regex(err2!.message, /minSamples: minSamples must not exceed windowSize/)
  const err3 = await t.throwsAsync(validateSubscriberConfig(anomaly, { treshold: 2 }))
  t.regex(err3!.message, /treshold/)
})

test('the least recently seen key is dropped beyond maxKeys', async (t) => {
  const h = harness({ maxKeys: 2 })
  await h.init()
  await h.deliver([
    { module: 'a', body: '1' },
    { module: 'b', body: '1' },
    { module: 'a', body: '1' },
    { module: 'c', body: '1' },
  ])
  t.is(h.metrics.gauges.tracked_keys, 2)
})
