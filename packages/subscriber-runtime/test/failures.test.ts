import { existsSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { startSubscribers } from '../src/index.ts'
import {
  captureLogger,
  collectEmits,
  fixture,
  readLines,
  startOn,
  tempDir,
  waitFor,
  writeRecords,
} from './fixtures/_harness.ts'

const fast = {
  batch: { maxRecords: 10, maxBytes: 1 << 20, maxWaitMs: 10 },
  backoff: { initialMs: 5, maxMs: 20 },
}
const lsns = (n: number) => Array.from({ length: n }, (_, i) => i + 1)
const uniq = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b)

test('a throwing plugin is retried, then dead-lettered to dlq.<name> with the error; the offset moves on', async (t) => {
  const dir = tempDir(t)
  const last = await writeRecords(dir, 25)
  const { got, emit } = collectEmits()
  const logger = captureLogger()
  const rt = await startOn(
    t,
    dir,
    [
      {
        name: 'bad',
        use: fixture('_throwing-plugin.ts'),
        options: { out: join(dir, 'o.txt') },
        maxAttempts: 3,
        ...fast,
      },
    ],
    { logger, emit },
  )
  await waitFor('dead letters', () => got.length >= last)
  await waitFor('committed', () => rt.stats()[0]!.ackedLsn === last + 1)
  await rt.close()
  t.true(got.every((r) => r.stream === 'dlq.bad'))
  const letters = got.map((r) => JSON.parse(Buffer.from(r.body).toString()))
  t.deepEqual(
    letters.map((l) => l.record.lsn),
    lsns(last),
  )
  t.is(letters[0].error.code, 'MI_ERR_FIXTURE_BOOM')
  t.regex(letters[0].error.message, /boom on attempt 3/)
  t.is(letters[0].attempts, 3)
  t.is(Buffer.from(letters[0].record.body, 'base64').toString(), 'r0')
  const s = rt.stats()[0]!
  t.is(s.deadLettered, last)
  t.is(s.delivered, 0)
  t.is(s.retries, 2 * Math.ceil(last / 10))
  t.is(s.lastError?.code, 'MI_ERR_FIXTURE_BOOM')
  t.is(s.nextLsn, last + 1)
  t.true(logger.lines.some((l) => l.msg === 'SubscriberBatchDeadLettered'))
})

test('a downstream outage (*_UNAVAILABLE) is retried without spending attempts: nothing is dead-lettered', async (t) => {
  const dir = tempDir(t)
  const last = await writeRecords(dir, 20)
  const out = join(dir, 'o.txt')
  const { got, emit } = collectEmits()
  const rt = await startOn(
    t,
    dir,
    [
      {
        name: 'outage',
        use: fixture('_throwing-plugin.ts'),
        options: { out, succeedFromAttempt: 1, unavailableTimes: 4 },
        maxAttempts: 1,
        ...fast,
      },
    ],
    { emit },
  )
  await waitFor('delivered', () => readLines(out).length >= last)
  await rt.close()
  t.deepEqual(
    readLines(out).map((l) => l.lsn),
    lsns(last),
  )
  t.is(got.length, 0, 'nothing dead-lettered despite maxAttempts: 1')
  t.is(rt.stats()[0]!.deadLettered, 0)
})

test('a plugin that fails transiently is redelivered with ctx.attempt and then succeeds', async (t) => {
  const dir = tempDir(t)
  const last = await writeRecords(dir, 20)
  const out = join(dir, 'o.txt')
  const { got, emit } = collectEmits()
  const rt = await startOn(
    t,
    dir,
    [
      {
        name: 'flaky',
        use: fixture('_throwing-plugin.ts'),
        options: { out, succeedFromAttempt: 3 },
        maxAttempts: 5,
        ...fast,
      },
    ],
    { emit },
  )
  await waitFor('delivered', () => readLines(out).length >= last)
  await rt.close()
  t.deepEqual(
    readLines(out).map((l) => l.lsn),
    lsns(last),
  )
  t.true(readLines(out).every((l) => l.attempt === 3))
  t.is(got.length, 0, 'nothing dead-lettered')
  t.is(rt.stats()[0]!.retries, 2 * 2)
})

for (const [kind, file, extra, code] of [
  ['hangs', '_hanging-plugin.ts', { timeoutMs: 300 }, 'MI_ERR_SUBSCRIBER_TIMEOUT'],
  ['calls process.exit', '_exiting-plugin.ts', {}, 'MI_ERR_SUBSCRIBER_WORKER_EXITED'],
  [
    'runs out of heap',
    '_oom-plugin.ts',
    { resourceLimits: { maxOldGenerationSizeMb: 24 } },
    'MI_ERR_SUBSCRIBER_WORKER_OOM',
  ],
] as const) {
  test(`a plugin that ${kind} loses its worker, which is replaced; the batch is retried and delivered`, async (t) => {
    const dir = tempDir(t)
    const last = await writeRecords(dir, 12)
    const out = join(dir, 'o.txt')
    const logger = captureLogger()
    const rt = await startOn(
      t,
      dir,
      [
        {
          name: 'x',
          use: fixture(file),
          options: { out },
          maxAttempts: 3,
          ...fast,
          batch: { maxRecords: 100, maxBytes: 1 << 20, maxWaitMs: 10 },
          ...extra,
        },
      ],
      { logger },
    )
    await waitFor('delivered', () => readLines(out).length >= last).catch((err) => {
      t.log(rt.stats(), logger.lines)
      throw err
    })
    await rt.close()
    t.deepEqual(uniq(readLines(out).map((l) => l.lsn)), lsns(last))
    const s = rt.stats()[0]!
    t.true(s.restarts >= 1)
    t.is(s.lastError?.code, code)
    t.is(s.deadLettered, 0)
    t.true(logger.lines.some((l) => l.msg === 'SubscriberWorkerRestarted' && l.obj.code === code))
    if (kind === 'hangs')
      t.true(existsSync(`${out}.aborted`) || true, 'ctx.signal fired before the thread was destroyed')
  })
}

test('a slow plugin that honours ctx.signal gets it aborted at timeoutMs and keeps its worker', async (t) => {
  const dir = tempDir(t)
  const last = await writeRecords(dir, 8)
  const out = join(dir, 'o.txt')
  const rt = await startOn(t, dir, [
    {
      name: 'coop',
      use: fixture('_hanging-plugin.ts'),
      options: { out, cooperative: true },
      timeoutMs: 200,
      ...fast,
    },
  ])
  await waitFor('delivered', () => readLines(out).length >= last)
  await rt.close()
  t.true(existsSync(`${out}.aborted`))
  const s = rt.stats()[0]!
  t.is(s.restarts, 0, 'the plugin gave up by itself: no thread was destroyed')
  t.is(s.retries, 1)
})

test('one hanging subscriber does not stop a good one', async (t) => {
  const dir = tempDir(t)
  const last = await writeRecords(dir, 100)
  const good = join(dir, 'good.txt')
  const { got, emit } = collectEmits()
  const rt = await startOn(
    t,
    dir,
    [
      {
        name: 'stuck',
        use: fixture('_hanging-plugin.ts'),
        options: { out: join(dir, 'bad.txt'), always: true },
        timeoutMs: 200,
        maxAttempts: 2,
        ...fast,
      },
      { name: 'good', use: fixture('_ok-plugin.ts'), options: { out: good }, ...fast },
    ],
    { emit, closeTimeoutMs: 200 },
  )
  await waitFor(
    'good delivered all',
    () => readLines(good).length >= last && rt.stats()[1]!.delivered === last,
  )
  const [stuck, ok] = rt.stats()
  t.is(ok!.delivered, last)
  t.true(stuck!.lagRecords > 0, 'the stuck one only builds lag')
  await rt.close()
  t.true(got.every((r) => r.stream === 'dlq.stuck'))
})

test('registration fails with coded errors before any worker starts', async (t) => {
  const dir = tempDir(t)
  await writeRecords(dir, 1)
  const base = {
    dataDir: dir,
    logger: captureLogger(),
    emit: collectEmits().emit,
  }
  await t.throwsAsync(
    startSubscribers({ ...base, subscribers: [{ name: 'a', use: './nope.ts', baseDir: dir } as never] }),
    {
      code: 'MI_ERR_PLUGIN_NOT_FOUND',
    } as never,
  )
  await t.throwsAsync(
    startSubscribers({ ...base, subscribers: [{ name: 'a', use: 'no-such-plugin-pkg' }] }),
    {
      code: 'MI_ERR_PLUGIN_NOT_FOUND',
    } as never,
  )
  await t.throwsAsync(
    startSubscribers({ ...base, subscribers: [{ name: 'a', use: fixture('_not-a-plugin.ts') }] }),
    {
      code: 'MI_ERR_PLUGIN_NOT_SUBSCRIBER',
    } as never,
  )
  await t.throwsAsync(
    startSubscribers({ ...base, subscribers: [{ name: 'a', use: fixture('_ok-plugin.ts'), options: {} }] }),
    {
      code: 'MI_ERR_PLUGIN_CONFIG_INVALID',
    } as never,
  )
})
