import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { openLog } from '@module-ingest/log'
import test from 'ava'
import { startSubscribers } from '../src/index.ts'
import {
  captureLogger,
  collectEmits,
  fast,
  fixture,
  readLines,
  startOn,
  tempDir,
  waitFor,
  writeRecords,
} from './fixtures/_harness.ts'

test('delivers every record at least once, in log order, filtered by stream globs; commits offsets', async (t) => {
  const dir = tempDir(t)
  const last = await writeRecords(dir, 200)
  const all = join(dir, 'all.txt')
  const temp = join(dir, 'temp.txt')
  const rt = await startOn(t, dir, [
    { name: 'all', use: fixture('_ok-plugin.ts'), options: { out: all }, ...fast },
    { name: 'temp', use: fixture('_ok-plugin.ts'), options: { out: temp }, streams: ['*.temp'], ...fast },
  ])
  await waitFor('all records', () => readLines(all).length >= last && readLines(temp).length >= last / 2)
  await waitFor('lag 0', () => rt.stats().every((s) => s.lagRecords === 0))
  await rt.close()
  const got = readLines(all)
  t.deepEqual(
    got.map((l) => l.lsn),
    Array.from({ length: last }, (_, i) => i + 1),
    'concurrency 1: strict log order, no gaps, no duplicates on a clean run',
  )
  t.true(readLines(temp).every((l) => l.stream === 'sensors.temp'))
  t.is(readLines(temp).length, last / 2)
  const [sAll, sTemp] = rt.stats()
  t.is(sAll!.delivered, last)
  t.is(sAll!.nextLsn, last + 1, 'close commits the offset')
  t.is(sTemp!.nextLsn, last + 1, 'skipped records advance the offset too')
  t.is(sAll!.state, 'closed')
})

test('emitted derived records reach the host before the offset moves', async (t) => {
  const dir = tempDir(t)
  const last = await writeRecords(dir, 30)
  const { got, emit } = collectEmits()
  const logger = captureLogger()
  let seen = 0
  let delivered = 0
  const rt = await startOn(
    t,
    dir,
    [
      {
        name: 'scorer',
        use: fixture('_ok-plugin.ts'),
        options: { out: join(dir, 'o.txt'), emitStream: 'scores' },
        ...fast,
      },
    ],
    {
      logger,
      emit,
      metrics: {
        pluginMetric: (sub, kind, name, values) => {
          if (sub === 'scorer' && kind === 'counter' && name === 'seen_records_total') seen += values[0]!
        },
        batchDelivered: (_sub, records) => {
          delivered += records
        },
      },
    },
  )
  await waitFor('emits', () => got.length >= last)
  await rt.close()
  t.is(got.length, last)
  t.true(got.every((r) => r.stream === 'scores'))
  t.deepEqual(
    got.map((r) => Buffer.from(r.body).toString()),
    Array.from({ length: last }, (_, i) => `derived:${i + 1}`),
  )
  t.is(rt.stats()[0]!.emitted, last)
  t.is(seen, last, 'plugin metrics reach the host callbacks')
  t.is(delivered, last)
  const pluginLine = logger.lines.find((l) => l.obj.plugin === true)
  t.is(pluginLine?.obj.subscriber, 'scorer', 'plugin log lines are forwarded with the subscriber name')
  t.regex(pluginLine?.msg ?? '', /^batch of \d+$/)
})

test('a slow host append does not hold the lane; the offset waits for it', async (t) => {
  const dir = tempDir(t)
  const last = await writeRecords(dir, 100)
  const out = join(dir, 'o.txt')
  const appended: string[] = []
  // The first append hangs until released: later batches are handled and appended meanwhile,
  // but the offset does not pass the first batch.
  const gate = Promise.withResolvers<void>()
  let calls = 0
  const rt = await startSubscribers({
    dataDir: dir,
    logger: captureLogger(),
    emit: async (records) => {
      if (calls++ === 0) await gate.promise
      for (const r of records) appended.push(Buffer.from(r.body).toString())
    },
    commitIntervalMs: 20,
    commitEveryBatches: 1,
    subscribers: [
      { name: 'scorer', use: fixture('_ok-plugin.ts'), options: { out, emitStream: 'scores' }, ...fast },
    ],
  })
  t.teardown(() => {
    gate.resolve()
    return rt.close()
  })
  await waitFor('later batches handled and appended', () => rt.stats()[0]!.delivered === last - 20)
  await new Promise((r) => setTimeout(r, 100))
  const held = rt.stats()[0]!
  t.is(held.ackedLsn, 1, 'nothing is done while the first batch is not appended')
  t.is(held.nextLsn, 1)
  t.is(appended.length, last - 20, 'later appends ran, the first still hangs')
  gate.resolve()
  await waitFor('everything appended and acked', () => rt.stats()[0]!.ackedLsn === last + 1)
  await rt.close()
  t.is(rt.stats()[0]!.nextLsn, last + 1)
  t.is(appended.length, last)
  t.deepEqual(
    [...appended].sort((a, b) => Number(a.slice(8)) - Number(b.slice(8))),
    Array.from({ length: last }, (_, i) => `derived:${i + 1}`),
  )
})

test('with the host durable signal: records trickling in are delivered in order, full batches and a partial one at maxWaitMs', async (t) => {
  const dir = tempDir(t)
  const log = await openLog(dir)
  t.teardown(() => log.close())
  const out = join(dir, 'o.txt')
  const rt = await startOn(
    t,
    dir,
    [
      {
        name: 'live',
        use: fixture('_ok-plugin.ts'),
        options: { out },
        batch: { maxRecords: 20, maxBytes: 1 << 20, maxWaitMs: 300 },
      },
    ],
    // What the server passes: a subscribe function carrying the durable lsn.
    { durableSignal: (listener) => log.onDurable(listener) },
  )
  let seq = 0n
  const append = async (n: number) => {
    log.append({
      module: 'm1',
      core: '',
      seq: ++seq,
      rts: Date.now() * 1000,
      records: Array.from({ length: n }, (_, i) => ({ stream: 's', ts: i, body: Buffer.from('x') })),
    })
    await log.sync()
  }
  // 5 + 15 fill one batch; 7 more stay a partial batch until maxWaitMs; then 40 at once.
  await append(5)
  await new Promise((r) => setTimeout(r, 50))
  await append(15)
  await waitFor('the first full batch', () => readLines(out).length >= 20)
  await append(7)
  await waitFor('the partial batch, at maxWaitMs', () => readLines(out).length >= 27)
  await append(40)
  await waitFor('everything', () => readLines(out).length >= 67)
  await rt.close()
  t.deepEqual(
    readLines(out).map((l) => l.lsn),
    Array.from({ length: 67 }, (_, i) => i + 1),
  )
  t.is(rt.stats()[0]!.nextLsn, 68)
})

test('concurrency > 1 shards by module: each module keeps log order', async (t) => {
  const dir = tempDir(t)
  const last = await writeRecords(dir, 300, { modules: ['a', 'b', 'c', 'd', 'e'], perBatch: 3 })
  const out = join(dir, 'o.txt')
  const rt = await startOn(t, dir, [
    {
      name: 'par',
      use: fixture('_ok-plugin.ts'),
      options: { out, delayMs: 5 },
      concurrency: 3,
      ...fast,
      batch: { maxRecords: 7, maxBytes: 1 << 20, maxWaitMs: 10 },
    },
  ])
  await waitFor('all', () => readLines(out).length >= last)
  await rt.close()
  const lines = readLines(out)
  t.deepEqual(
    [...new Set(lines.map((l) => l.lsn))].sort((a, b) => a - b),
    Array.from({ length: last }, (_, i) => i + 1),
  )
  for (const m of ['a', 'b', 'c', 'd', 'e']) {
    const lsns = lines.filter((l) => l.module === m).map((l) => l.lsn)
    t.deepEqual(
      lsns,
      [...lsns].sort((a, b) => a - b),
      `module ${m} in order`,
    )
  }
  t.is(rt.stats()[0]!.nextLsn, last + 1)
})

test('offsets resume after a restart: committed records are not redelivered, new ones are', async (t) => {
  const dir = tempDir(t)
  const first = await writeRecords(dir, 50)
  const out = join(dir, 'o.txt')
  const start = async () =>
    startSubscribers({
      dataDir: dir,
      logger: captureLogger(),
      emit: collectEmits().emit,
      subscribers: [{ name: 'r', use: fixture('_ok-plugin.ts'), options: { out }, ...fast }],
    })
  let rt = await start()
  await waitFor('first run', () => readLines(out).length >= first)
  await rt.close()
  const last = await writeRecords(dir, 40, {}, first)
  rt = await start()
  t.is(rt.stats()[0]!.nextLsn, first + 1)
  await waitFor('second run', () => readLines(out).length >= last)
  await rt.close()
  t.deepEqual(
    readLines(out).map((l) => l.lsn),
    Array.from({ length: last }, (_, i) => i + 1),
  )
})

test('pause stops deliveries, resume continues; lag shows in stats', async (t) => {
  const dir = tempDir(t)
  const out = join(dir, 'o.txt')
  await writeRecords(dir, 10)
  const rt = await startOn(t, dir, [{ name: 'p', use: fixture('_ok-plugin.ts'), options: { out }, ...fast }])
  await waitFor('first', () => readLines(out).length >= 10)
  rt.pause('p')
  await waitFor('paused', () => rt.stats()[0]!.state === 'paused' && rt.stats()[0]!.inFlightBatches === 0)
  const last = await writeRecords(dir, 30, {}, 10)
  await waitFor('lag visible', () => rt.stats()[0]!.lagRecords === 30)
  t.is(readLines(out).length, 10)
  rt.resume('p')
  await waitFor('rest', () => readLines(out).length >= last)
  t.throws(() => rt.pause('nope'), { code: 'MI_ERR_SUBSCRIBER_UNKNOWN' } as never)
  t.truthy(readFileSync(out, 'utf8'))
})

test("ordering 'none' spreads batches over lanes and still delivers everything once on a clean run", async (t) => {
  const dir = tempDir(t)
  const last = await writeRecords(dir, 120, { modules: ['solo'] })
  const out = join(dir, 'o.txt')
  const rt = await startOn(t, dir, [
    {
      name: 'any',
      use: fixture('_ok-plugin.ts'),
      options: { out, delayMs: 5 },
      concurrency: 2,
      ordering: 'none',
      ...fast,
      batch: { maxRecords: 10, maxBytes: 1 << 20, maxWaitMs: 10 },
    },
  ])
  await waitFor('all', () => readLines(out).length >= last)
  await rt.close()
  t.deepEqual(
    readLines(out)
      .map((l) => l.lsn)
      .sort((a, b) => a - b),
    Array.from({ length: last }, (_, i) => i + 1),
  )
  t.is(rt.stats()[0]!.nextLsn, last + 1)
})

test('groups of streams a subscriber does not read are skipped whole; its offset passes them', async (t) => {
  const dir = tempDir(t)
  await writeRecords(dir, 100, { streams: ['sensors.temp'] })
  await writeRecords(dir, 100, { streams: ['ai.scores'] }, 100) // derived records, one group of them
  const last = await writeRecords(dir, 100, { streams: ['sensors.rpm', 'ai.scores'] }, 200)
  const out = join(dir, 'out.txt')
  const rt = await startOn(t, dir, [
    { name: 'sensors', use: fixture('_ok-plugin.ts'), options: { out }, streams: ['sensors.*'], ...fast },
  ])
  await waitFor('lag 0', () => rt.stats().every((s) => s.lagRecords === 0))
  await rt.close()
  const got = readLines(out)
  t.deepEqual(
    got.map((l) => l.lsn),
    [...Array.from({ length: 100 }, (_, i) => i + 1), ...Array.from({ length: 50 }, (_, i) => 201 + 2 * i)],
  )
  t.true(got.every((l) => l.stream.startsWith('sensors.')))
  t.is(rt.stats()[0]!.nextLsn, last + 1, 'the skipped group advances the committed offset')
})
