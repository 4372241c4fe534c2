// A downstream that stays unreachable (*_UNAVAILABLE): the retries back off exponentially over
// consecutive failures, one log line each, carrying the plugin's own code.
import { join } from 'node:path'
import test from 'ava'
import { startSubscribers } from '../src/index.ts'
import {
  captureLogger,
  collectEmits,
  fixture,
  type LogLine,
  readLines,
  tempDir,
  waitFor,
  writeRecords,
} from './fixtures/_harness.ts'

test('consecutive *_UNAVAILABLE failures: growing retryInMs, one SubscriberUnavailable line each, plugin code kept', async (t) => {
  const dir = tempDir(t)
  const last = await writeRecords(dir, 5)
  const out = join(dir, 'o.txt')
  const lines: LogLine[] = []
  const { emit } = collectEmits()
  const rt = await startSubscribers({
    dataDir: dir,
    logger: captureLogger(lines),
    emit,
    subscribers: [
      {
        name: 'down',
        use: fixture('_throwing-plugin.ts'),
        options: { out, succeedFromAttempt: 1, unavailableTimes: 6 },
        maxAttempts: 1,
        batch: { maxRecords: 100, maxBytes: 1 << 20, maxWaitMs: 5 },
        backoff: { initialMs: 8, maxMs: 60_000 },
      },
    ],
  })
  t.teardown(() => rt.close())
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
