import { join } from 'node:path'
import { openLog, openReader } from '@module-ingest/log'
import { unpackRecords } from '@module-ingest/log/packed'
import test from 'ava'
import { startSubscribersThread, terminateThreadForTests } from '../src/internal.ts'
import {
  captureLogger,
  collectEmits,
  fast,
  fixture,
  readLines,
  tempDir,
  waitFor,
  writeRecords,
} from './fixtures/_harness.ts'

test('emits from the thread land in the log; metrics and log lines reach the host; the durable signal wakes it', async (t) => {
  const dir = tempDir(t)
  const first = await writeRecords(dir, 40)
  // The host's writer: emits are appended to it, and its durable signal is handed to the thread.
  const log = await openLog(dir)
  t.teardown(() => log.close())
  let seq = 0n
  const append = async (records: { stream: string; body: Uint8Array }[]) => {
    const ts = Date.now() * 1000
    log.append({
      module: 'mi:subscribers',
      core: '',
      seq: ++seq,
      rts: ts,
      records: records.map((r) => ({ ...r, ts })),
    })
    await log.sync()
  }
  const logger = captureLogger()
  let seen = 0
  let delivered = 0
  const loopDelays: number[] = []
  const rt = await startSubscribersThread({
    dataDir: dir,
    logger,
    durableSignal: log.durableSignal,
    emit: append,
    emitPacked: (packed) => append(unpackRecords(packed)),
    metrics: {
      pluginMetric: (sub, kind, name, values) => {
        if (sub === 'scorer' && kind === 'counter' && name === 'seen_records_total') seen += values[0]!
      },
      batchDelivered: (_sub, records) => {
        delivered += records
      },
      loopDelay: (us) => loopDelays.push(us),
    },
    subscribers: [
      {
        name: 'scorer',
        use: fixture('_ok-plugin.ts'),
        streams: ['sensors.*'],
        options: { out: join(dir, 'o.txt'), emitStream: 'scores' },
        ...fast,
      },
    ],
  })
  t.teardown(() => rt.close())
  await waitFor('first records', () => readLines(join(dir, 'o.txt')).length >= first)
  // Written after the start: the thread's reader wakes on the writer's signal (SharedArrayBuffer).
  for (let i = 0; i < 10; i++) {
    log.append({
      module: 'late',
      core: '',
      seq: BigInt(i + 1),
      rts: Date.now() * 1000,
      records: [{ stream: 'sensors.temp', ts: 1, body: Buffer.from(`late${i}`) }],
    })
  }
  await log.sync()
  await waitFor('late records', () => readLines(join(dir, 'o.txt')).some((l) => l.body === 'late9'))
  await waitFor("the thread's loop delay", () => loopDelays.length > 0)
  await rt.close()

  const reader = await openReader(dir)
  t.teardown(() => reader.close())
  const c = reader.cursor({ streams: ['scores'] })
  const derived = (await c.read({ maxRecords: 100_000 })).map((r) => Buffer.from(r.body).toString())
  c.close()
  const lines = readLines(join(dir, 'o.txt'))
  t.deepEqual(
    derived.sort(),
    lines.map((l) => `derived:${l.lsn}`).sort(),
    'one derived record in the log per record handled',
  )
  t.is(rt.stats()[0]!.emitted, lines.length)
  t.is(seen, lines.length, 'plugin metrics reach the host callbacks')
  t.is(delivered, lines.length, 'runtime metrics reach the host callbacks')
  t.true(
    loopDelays.every((us) => Number.isFinite(us) && us >= 0),
    "the thread's event-loop delay reaches the host",
  )
  const pluginLine = logger.lines.find((l) => l.obj.plugin === true)
  t.is(pluginLine?.obj.subscriber, 'scorer', 'plugin log lines keep the subscriber binding')
  t.true(
    logger.lines.some((l) => l.msg === 'SubscriberClosed'),
    'the last lines arrive before close resolves',
  )
})

test('stats, pause and resume through the thread; unknown names throw', async (t) => {
  const dir = tempDir(t)
  const last = await writeRecords(dir, 200)
  const out = join(dir, 'o.txt')
  const rt = await startSubscribersThread({
    dataDir: dir,
    logger: captureLogger(),
    emit: collectEmits().emit,
    subscribers: [{ name: 'p', use: fixture('_ok-plugin.ts'), options: { out, delayMs: 5 }, ...fast }],
  })
  t.teardown(() => rt.close())
  await rt.pause('p')
  t.is(rt.stats()[0]!.state, 'paused', 'stats() shows the pause once it resolved')
  await waitFor('in flight done', () => rt.stats()[0]!.inFlightBatches === 0)
  await rt.resume('p')
  t.is(rt.stats()[0]!.state, 'running')
  await waitFor('lag 0', () => rt.stats()[0]!.lagRecords === 0)
  t.is(readLines(out).length, last)
  t.throws(() => rt.pause('nope'), { code: 'MI_ERR_SUBSCRIBER_UNKNOWN' } as never)
})

test('config errors fail the start with their codes, and the thread is gone', async (t) => {
  const dir = tempDir(t)
  await writeRecords(dir, 5)
  const start = (sub: object) =>
    startSubscribersThread({
      dataDir: dir,
      logger: captureLogger(),
      emit: collectEmits().emit,
      subscribers: [{ name: 'bad', options: { out: join(dir, 'o.txt') }, ...sub } as never],
    })
  await t.throwsAsync(start({ use: fixture('_missing-plugin.ts') }), { code: 'MI_ERR_PLUGIN_NOT_FOUND' })
  await t.throwsAsync(start({ use: fixture('_not-a-plugin.ts') }), { code: 'MI_ERR_PLUGIN_NOT_SUBSCRIBER' })
  await t.throwsAsync(start({ use: fixture('_ok-plugin.ts'), options: {} }), {
    code: 'MI_ERR_PLUGIN_CONFIG_INVALID',
  })
  await t.throwsAsync(start({ use: fixture('_ok-plugin.ts'), concurrency: 0 }), {
    code: 'MI_ERR_SUBSCRIBER_OPT_INVALID',
  })
})

test('close() lets in-flight batches finish and commits the offset', async (t) => {
  const dir = tempDir(t)
  const last = await writeRecords(dir, 100)
  const out = join(dir, 'o.txt')
  const rt = await startSubscribersThread({
    dataDir: dir,
    logger: captureLogger(),
    emit: collectEmits().emit,
    // No commit before close: whatever is committed, close() committed it.
    commitEveryBatches: 1_000_000,
    commitIntervalMs: 1_000_000,
    subscribers: [{ name: 'c', use: fixture('_ok-plugin.ts'), options: { out }, ...fast }],
  })
  await waitFor('all handled', () => readLines(out).length >= last)
  await rt.close()
  t.is(rt.stats()[0]!.state, 'closed')
  t.is(rt.stats()[0]!.nextLsn, last + 1)
  const reader = await openReader(dir)
  t.teardown(() => reader.close())
  t.is(reader.groups.get('sub.c'), last + 1, 'committed in the log')
})

test('a thread that dies is reported to onFatal with MI_ERR_SUBSCRIBER_THREAD_EXITED', async (t) => {
  const dir = tempDir(t)
  await writeRecords(dir, 5)
  const logger = captureLogger()
  const fatal = Promise.withResolvers<Error>()
  const rt = await startSubscribersThread({
    dataDir: dir,
    logger,
    emit: collectEmits().emit,
    onFatal: fatal.resolve,
    subscribers: [
      { name: 'd', use: fixture('_ok-plugin.ts'), options: { out: join(dir, 'o.txt') }, ...fast },
    ],
  })
  await terminateThreadForTests(rt)
  const err = await fatal.promise
  t.is((err as Error & { code: string }).code, 'MI_ERR_SUBSCRIBER_THREAD_EXITED')
  t.true(logger.lines.some((l) => l.obj.event === 'SubscriberThreadExited'))
  await t.throwsAsync(rt.finished('d'), { code: 'MI_ERR_SUBSCRIBER_THREAD_EXITED' })
  await rt.close() // idempotent after a death: resolves
})

test('a failed packed emit gets its buffer back and is retried intact', async (t) => {
  const dir = tempDir(t)
  const last = await writeRecords(dir, 20)
  const got: string[] = []
  let calls = 0
  const rt = await startSubscribersThread({
    dataDir: dir,
    logger: captureLogger(),
    emit: collectEmits().emit,
    emitPacked: async (packed) => {
      // The first append fails: the buffer moved here must go back for the runtime's retry.
      if (++calls === 1) throw Object.assign(new Error('log unavailable'), { code: 'MI_ERR_LOG_UNAVAILABLE' })
      for (const r of unpackRecords(packed)) got.push(Buffer.from(r.body).toString())
    },
    subscribers: [
      {
        name: 'e',
        use: fixture('_ok-plugin.ts'),
        options: { out: join(dir, 'o.txt'), emitStream: 'scores' },
        ...fast,
        batch: { maxRecords: 100, maxBytes: 1 << 20, maxWaitMs: 20 },
      },
    ],
  })
  t.teardown(() => rt.close())
  await waitFor('emits', () => got.length >= last)
  await rt.close()
  t.true(calls >= 2)
  t.deepEqual(
    got,
    Array.from({ length: last }, (_, i) => `derived:${i + 1}`),
  )
})

test('the thread takes its nice, lowered to the lowest a subscriber asks for; pool threads inherit it', async (t) => {
  if (process.platform !== 'linux') return t.pass('per-thread nice is Linux only')
  const dir = tempDir(t)
  await writeRecords(dir, 5)
  const run = async (subNice: number) => {
    const logger = captureLogger()
    const rt = await startSubscribersThread({
      dataDir: dir,
      logger,
      emit: collectEmits().emit,
      nice: 9,
      subscribers: [{ name: `n${subNice}`, use: fixture('_nice-plugin.ts'), nice: subNice, ...fast }],
    })
    await waitFor('handled', () => logger.lines.some((l) => l.msg === 'NiceAtHandle'))
    await rt.close()
    const started = logger.lines.find((l) => l.obj.event === 'SubscriberThreadStarted')!.obj
    return { thread: started.nice, pool: logger.lines.find((l) => l.msg === 'NiceAtHandle')!.obj.nice }
  }
  t.deepEqual(await run(12), { thread: 9, pool: 12 }, 'the setting; the pool thread lowers itself further')
  t.deepEqual(await run(4), { thread: 4, pool: 4 }, 'lowered for the subscriber that asks for 4')
})
