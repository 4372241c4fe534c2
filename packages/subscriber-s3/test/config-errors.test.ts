// A configuration the store refuses (no such bucket, bad keys) fails the subscriber with one
// clear log line and a metric, and paces itself: no retry storm, nothing dead-lettered.
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createTestHarness } from '@module-ingest/subscriber-sdk/testkit'
import test from 'ava'
import sub from '../src/index.ts'
import { lsnsOf, readObjects, startTestS3 } from './_fauxqs.ts'

const codeOf = (err: unknown) => (err as { code?: string } | undefined)?.code
const records = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ lsn: i + 1, stream: 'telemetry.x', body: `r${i}` }))

test('wrong bucket: MI_ERR_S3_BUCKET_FATAL naming bucket and key, state failed, then recovers once fixed', async (t) => {
  await using s3 = await startTestS3()
  await using h = createTestHarness(sub, {
    config: {
      ...s3.options('not-created-yet'),
      source: 'edge-1',
      failedRecheckMs: 300,
      maxHandleWaitMs: 100,
    },
  })
  await h.init()
  const err = await t.throwsAsync(h.deliver(records(10)))
  t.is(codeOf(err), 'MI_ERR_S3_BUCKET_FATAL')
  // The background bucket check at init or the batch's own request found it (whichever came first).
  t.regex(err.message, /^s3:\/\/not-created-yet\/.*(NoSuchBucket|NotFound)/)
  t.is(h.metrics.gauges.s3_failed, 1)
  // Redeliveries wait; once the re-check is due the batch's own request fails again, naming its key.
  for (let i = 0; i < 100; i++) {
    if (h.logs.some((l) => l.obj.event === 'S3ConfigError' && String(l.obj.key).startsWith('module-ingest/')))
      break
    t.is(codeOf(await t.throwsAsync(h.redeliver())), 'MI_ERR_S3_BUCKET_FATAL')
  }
  const line = h.logs.find(
    (l) =>
      l.level === 'error' &&
      l.obj.event === 'S3ConfigError' &&
      String(l.obj.key).startsWith('module-ingest/'),
  )
  t.is(line?.obj.bucket, 'not-created-yet')
  t.regex(String(line?.obj.key), /^module-ingest\/telemetry\.x\/\d{4}\/\d\d\/\d\d\/\d\d\/edge-1-$/)

  // The operator creates the bucket: the next re-check uploads, and the state clears.
  s3.createBucket('not-created-yet')
  for (let i = 0; ; i++) {
    try {
      await h.redeliver()
      break
    } catch (e) {
      if (i > 40) throw e
    }
  }
  t.is(h.metrics.gauges.s3_failed, 0)
  t.deepEqual(lsnsOf(await readObjects(s3.client(), 'not-created-yet')).lsns, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
})

test('wrong credentials: fails clearly and sends one request per re-check, not one per redelivery', async (t) => {
  // A store that refuses every key, as S3 does for an unknown access key id.
  const seen: string[] = []
  const server = createServer((req: IncomingMessage, res) => {
    seen.push(`${req.method} ${req.url}`)
    req.resume()
    req.on('end', () => {
      res.writeHead(403, { 'content-type': 'application/xml' })
      res.end(
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidAccessKeyId</Code>' +
          '<Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>',
      )
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  await using h = createTestHarness(sub, {
    config: {
      bucket: 'edge-archive',
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'AKIAWRONG', secretAccessKey: 'wrong' },
      source: 'edge-1',
      failedRecheckMs: 60_000,
      maxHandleWaitMs: 20,
    },
  })
  await h.init()
  const err = await t.throwsAsync(h.deliver(records(5)))
  t.is(codeOf(err), 'MI_ERR_S3_BUCKET_FATAL')
  t.regex(err.message, /InvalidAccessKeyId/)
  const after = seen.length
  for (let i = 0; i < 10; i++) await t.throwsAsync(h.redeliver())
  t.is(seen.length, after, 'no request while failed')
  t.is(
    h.logs.filter((l) => l.obj.event === 'S3ConfigError').length <= 2,
    true,
    'one error line, not one per retry',
  )
  t.is(h.metrics.gauges.s3_failed, 1)
})
