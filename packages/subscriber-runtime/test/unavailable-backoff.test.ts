// A downstream that stays unreachable (*_UNAVAILABLE): the retries back off exponentially over
// consecutive failures, one log line each, carrying the plugin's own code.
import { join } from 'node:path'
import test from 'ava'
import {
  captureLogger,
  fixture,
  type LogLine,
  readLines,
  startOn,
  tempDir,
  waitFor,
  writeRecords,
} from './fixtures/_harness.ts'

test('consecutive *_UNAVAILABLE failures: growing retryInMs, one SubscriberUnavailable line each, plugin code kept', async (t) => {
  const dir = tempDir(t)
  const last = await writeRecords(dir, 5)
  const out = join(dir, 'o.txt')
  const lines: LogLine[] = []
  const rt = await startOn(
    t,
    dir,
    [
      {
        name: 'down',
        use: fixture('_throwing-plugin.ts'),
        options: { out, succeedFromAttempt: 1, unavailableTimes: 6 },
        maxAttempts: 1,
        batch: { maxRecords: 100, maxBytes: 1 << 20, maxWaitMs: 5 },
        backoff: { initialMs: 8, maxMs: 60_000 },
      },
    ],
    { logger: captureLogger(lines) },
  )
  await waitFor('delivered', () => readLines(out).length >= last)
  await rt.close()
  const failures = lines.filter((l) => l.msg === 'SubscriberUnavailable')
  t.is(failures.length, 6, 'one line per failure')
  t.true(failures.every((l) => l.obj.code === 'MI_ERR_FIXTURE_UNAVAILABLE'))
  const delays = failures.map((l) => l.obj.retryInMs as number)
  // Equal jitter: the n-th wait is within [cap/2, cap] for cap = 8 × 2^(n-1); without growth all
  // six would be ≤ 8.
  t.true(delays[5]! >= (8 * 2 ** 5) / 2, JSON.stringify(delays))
  t.true(delays[5]! > delays[0]!, JSON.stringify(delays))
})

test('a plugin that paced itself (retryAfterMs on its *_UNAVAILABLE error) is retried at once, never in a tight loop', async (t) => {
  const dir = tempDir(t)
  const last = await writeRecords(dir, 5)
  const out = join(dir, 'o.txt')
  const lines: LogLine[] = []
  const rt = await startOn(
    t,
    dir,
    [
      {
        name: 'paced',
        use: fixture('_throwing-plugin.ts'),
        // Held 30 ms per call (it probed meanwhile), then "retry at once"; an instant failure
        // claiming 0 still waits out the floor (backoff.initialMs) from the attempt's start.
        options: { out, succeedFromAttempt: 1, unavailableTimes: 6, holdMs: 30, retryAfterMs: 0 },
        maxAttempts: 1,
        batch: { maxRecords: 100, maxBytes: 1 << 20, maxWaitMs: 5 },
        backoff: { initialMs: 200, maxMs: 60_000 },
      },
    ],
    { logger: captureLogger(lines) },
  )
  await waitFor('delivered', () => readLines(out).length >= last)
  await rt.close()
  const delays = lines.filter((l) => l.msg === 'SubscriberUnavailable').map((l) => l.obj.retryInMs as number)
  t.is(delays.length, 6)
  // Without the hint the sixth wait would be ≥ 200 × 2^5 / 2 = 3200 ms; with it, the floor's rest:
  // 200 ms minus the ≥ 30 ms the attempt took.
  t.true(
    delays.every((d) => d <= 170),
    JSON.stringify(delays),
  )
  t.true(
    delays.every((d) => d >= 0),
    JSON.stringify(delays),
  )
})
