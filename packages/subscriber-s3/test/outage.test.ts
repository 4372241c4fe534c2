// The store goes away and comes back, and the uploader dies between upload and offset commit:
// in every case each lsn ends up in exactly one object.
import { createTestHarness, type PartialRecord } from '@module-ingest/subscriber-sdk/testkit'
import test from 'ava'
import sub from '../src/index.ts'
import { lsnsOf, readObjects, startTestS3 } from './_fauxqs.ts'

const codeOf = (err: unknown) => (err as { code?: string } | undefined)?.code
// Short waits keep the suite quick; the values are bounds, never asserted durations.
const fast = {
  offlineBackoff: { initialMs: 50, maxMs: 200 },
  connectTimeoutMs: 1000,
  requestTimeoutMs: 3000,
  sdkMaxAttempts: 1,
  source: 'edge-1',
}
const batch = (from: number, to: number): PartialRecord[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({
    lsn: from + i,
    stream: (from + i) % 4 === 0 ? 'b' : 'a',
    body: `r${from + i}`,
  }))
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

test('offline: batches fail with MI_ERR_S3_UNAVAILABLE (never dead-lettered), then everything arrives once', async (t) => {
  await using s3 = await startTestS3()
  s3.createBucket('outage')
  await using h = createTestHarness(sub, { config: { ...s3.options('outage'), ...fast } })
  await h.init()
  await h.deliver(batch(1, 100))

  await s3.stop()
  const down = await t.throwsAsync(h.deliver(batch(101, 200)))
  t.is(codeOf(down), 'MI_ERR_S3_UNAVAILABLE')
  // The runtime redelivers (without spending attempts): still down, still unavailable.
  t.is(codeOf(await t.throwsAsync(h.redeliver())), 'MI_ERR_S3_UNAVAILABLE')
  t.true(
    h.logs.some(
      (l) => l.level === 'warn' && l.obj.event === 'S3UnavailableError' && l.obj.bucket === 'outage',
    ),
  )
  t.is(h.metrics.gauges.s3_backlog_records, 100, 'the batch is the backlog while offline')

  await s3.restart()
  for (let i = 0; ; i++) {
    try {
      await h.redeliver()
      break
    } catch (err) {
      if (i > 20) throw err
    }
  }
  await h.deliver(batch(201, 300))
  const { lsns, duplicates } = lsnsOf(await readObjects(s3.client(), 'outage'))
  t.deepEqual(duplicates, [])
  t.deepEqual(lsns, range(1, 300))
  t.true(h.metrics.counters.s3_unavailable_total! >= 2)
  t.true(h.logs.some((l) => l.obj.event === 'S3Reachable'))
})

test('crash after upload, before the offset commit: redelivery with other boundaries stores nothing twice', async (t) => {
  await using s3 = await startTestS3()
  s3.createBucket('crash')
  const config = { ...s3.options('crash'), ...fast }

  // Process 1: batches 1..100 and 101..200 are uploaded, but the second's offset never commits
  // (the worker dies right after handle resolved). Then a partial batch: only stream a's object
  // of 201..300 made it (b's upload was in flight when the process died).
  const first = createTestHarness(sub, { config })
  await first.init()
  await first.deliver(batch(1, 100))
  first.failNext(1, { when: 'after' })
  await t.throwsAsync(first.deliver(batch(101, 200)))
  await first.deliver(batch(201, 300).filter((r) => r.stream === 'a'))
  await first.close()

  // Process 2 restarts from the committed offset 101 and batches differently.
  await using second = createTestHarness(sub, { config })
  await second.init()
  for (const [from, to] of [
    [101, 150],
    [151, 260],
    [261, 400],
  ] as const)
    await second.deliver(batch(from, to))

  const objects = await readObjects(s3.client(), 'crash')
  const { lsns, duplicates } = lsnsOf(objects)
  t.deepEqual(duplicates, [], 'no lsn in two objects')
  t.deepEqual(lsns, range(1, 400), 'none lost')
  // 101..200 and a's records of 201..300 were found stored and skipped.
  const storedA = batch(201, 300).filter((r) => r.stream === 'a').length
  t.is(second.metrics.counters.s3_skipped_records_total, 100 + storedA)
  t.true(second.logs.some((l) => l.obj.event === 'S3RecordsAlreadyStored'))
  // And no two objects of one prefix have overlapping ranges.
  const byPrefix = new Map<string, Array<[number, number]>>()
  for (const o of objects) {
    const m = /^(.*-)(\d+)-(\d+)\./.exec(o.key)!
    const list = byPrefix.get(m[1]!) ?? []
    list.push([Number(m[2]), Number(m[3])])
    byPrefix.set(m[1]!, list)
  }
  for (const list of byPrefix.values()) {
    list.sort((x, y) => x[0] - y[0])
    for (let i = 1; i < list.length; i++) t.true(list[i]![0] > list[i - 1]![1], `ranges overlap: ${list}`)
  }
})

test("reconcile: 'off' trusts batch boundaries (documented: a crash can then duplicate)", async (t) => {
  await using s3 = await startTestS3()
  s3.createBucket('no-reconcile')
  const config = { ...s3.options('no-reconcile'), ...fast, reconcile: 'off' }
  await using one = createTestHarness(sub, { config })
  await one.init()
  await one.deliver(batch(1, 10))
  await using two = createTestHarness(sub, { config })
  await two.init()
  await two.deliver(batch(1, 5))
  const { duplicates } = lsnsOf(await readObjects(s3.client(), 'no-reconcile'))
  t.true(duplicates.length > 0)
  t.is(two.metrics.counters.s3_list_requests_total, undefined, 'no LIST at all')
})

test('a stalled store (connection open, no answer) ends as MI_ERR_S3_UNAVAILABLE within handleBudgetMs', async (t) => {
  const sockets = new Set<import('node:net').Socket>()
  const { createServer } = await import('node:net')
  const server = createServer((s) => {
    sockets.add(s) // accept, read nothing back: a half-open uplink
    s.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  const port = (server.address() as import('node:net').AddressInfo).port
  await using h = createTestHarness(sub, {
    config: {
      bucket: 'stalled',
      endpoint: `http://127.0.0.1:${port}`,
      forcePathStyle: true,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      source: 'edge-1',
      requestTimeoutMs: 600_000,
      handleBudgetMs: 500,
      offlineBackoff: { initialMs: 50, maxMs: 100 },
    },
  })
  await h.init()
  const err = await t.throwsAsync(h.deliver(batch(1, 10)))
  t.is(codeOf(err), 'MI_ERR_S3_UNAVAILABLE', 'not a failed attempt: never dead-lettered')
  t.regex(err.message, /handleBudgetMs/)
  // The redelivery starts with a HeadBucket probe into the same silence: it is bounded too.
  const t0 = Date.now()
  t.is(codeOf(await t.throwsAsync(h.redeliver())), 'MI_ERR_S3_UNAVAILABLE')
  t.true(Date.now() - t0 < 60_000, 'the probe did not wait for requestTimeoutMs')
})
