import test from 'ava'
import { type Histogram, Metrics } from '../src/index.ts'
import { loopDelayMetric, probeLoopDelay, probeLoopDelayInto } from '../src/loop-delay.ts'

const until = async (cond: () => boolean) => {
  while (!cond()) await new Promise((r) => setTimeout(r, 5))
}

test('the probe records how late its timer ran, in µs, until stopped', async (t) => {
  const samples: number[] = []
  const stop = probeLoopDelay((us) => samples.push(us), { everyMs: 1, idleEveryMs: 2 })
  // A busy stretch: the timer cannot run until it ends, so one sample is at least this late.
  await until(() => samples.length > 0)
  const before = samples.length
  const end = performance.now() + 30
  while (performance.now() < end) {}
  await until(() => samples.length > before)
  stop()
  const n = samples.length
  await new Promise((r) => setTimeout(r, 20))
  t.is(samples.length, n, 'no sample after stop()')
  t.true(
    samples.every((us) => Number.isFinite(us) && us >= 0),
    'samples are non-negative µs',
  )
  t.true(Math.max(...samples) >= 20_000, 'the busy stretch shows as delay')
})

test('probeLoopDelayInto records into mi_<thread>_loop_delay_us', async (t) => {
  const metrics = new Metrics()
  const stop = probeLoopDelayInto(metrics, 'test', { everyMs: 1, idleEveryMs: 1 })
  const { name } = loopDelayMetric('test')
  t.is(name, 'mi_test_loop_delay_us')
  await until(() => ((metrics.get(name) as Histogram | undefined)?.hdr.totalCount ?? 0) > 0)
  stop()
  t.pass()
})
