// The S3 store itself is SIGKILLed while multipart uploads are in flight, then restarted: the
// batch fails as unavailable (nothing committed), the redelivery stores every record exactly once.

import { randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { S3Client } from '@aws-sdk/client-s3'
import { createTestHarness } from '@module-ingest/subscriber-sdk/testkit'
import test from 'ava'
import sub from '../src/index.ts'
import { kCredentials, lsnsOf, readObjects, startTestS3Process } from './_fauxqs.ts'

const codeOf = (err: unknown) => (err as { code?: string } | undefined)?.code
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('S3 store SIGKILLed mid multipart upload: retried after restart, each lsn in exactly one object', async (t) => {
  await using store = await startTestS3Process(['kill-me'])
  await using h = createTestHarness(sub, {
    config: {
      ...store.options('kill-me'),
      source: 'edge-1',
      format: 'msgpack',
      compression: 'none',
      partSizeBytes: 5 * 1024 * 1024,
      uploadConcurrency: 1,
      offlineBackoff: { initialMs: 50, maxMs: 200 },
      sdkMaxAttempts: 1,
      connectTimeoutMs: 1000,
      requestTimeoutMs: 5000,
    },
  })
  await h.init()
  // Three streams × 6 records of 1 MiB: three objects of ~6 MiB, each a two-part upload.
  const records = Array.from({ length: 18 }, (_, i) => ({
    lsn: i + 1,
    stream: `blobs.${i % 3}`,
    body: new Uint8Array(randomBytes(1024 * 1024)),
  }))
  const delivery = h.deliver(records).then(
    () => 'stored' as const,
    (err: unknown) => err,
  )
  // Kill as soon as a multipart upload has parts on the store's disk (or the batch is done).
  const multipartDir = join(store.storageDir, '_multipart')
  let settled = false
  void delivery.then(() => {
    settled = true
  })
  for (let i = 0; i < 400 && !settled; i++) {
    const parts = await readdir(multipartDir).catch(() => [])
    if (parts.length > 0) break
    await sleep(25)
  }
  await store.kill()
  const outcome = await delivery
  t.log(outcome === 'stored' ? 'the batch finished before the kill' : `batch failed: ${codeOf(outcome)}`)
  if (outcome !== 'stored') t.is(codeOf(outcome), 'MI_ERR_S3_UNAVAILABLE')

  await store.restart()
  if (outcome !== 'stored') {
    for (let i = 0; ; i++) {
      try {
        await h.redeliver()
        break
      } catch (err) {
        if (i > 40) throw err
      }
    }
  }
  const s3 = new S3Client({
    endpoint: store.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { ...kCredentials },
  })
  t.teardown(() => s3.destroy())
  const objects = await readObjects(s3, 'kill-me', '', 'msgpack', 'none')
  const { lsns, duplicates } = lsnsOf(objects)
  t.deepEqual(duplicates, [])
  t.deepEqual(
    lsns,
    records.map((r) => r.lsn),
  )
  const byLsn = new Map(objects.flatMap((o) => o.records.map((r) => [r.lsn, r.body] as const)))
  for (const r of records) t.is(byLsn.get(r.lsn), Buffer.from(r.body).toString('base64'))
})

test('shutdown mid multipart upload: the upload is aborted, nothing is half-written or acknowledged', async (t) => {
  await using store = await startTestS3Process(['shutdown'])
  const h = createTestHarness(sub, {
    config: {
      ...store.options('shutdown'),
      source: 'edge-1',
      format: 'msgpack',
      compression: 'none',
      partSizeBytes: 5 * 1024 * 1024,
      uploadConcurrency: 1,
    },
  })
  await h.init()
  const records = Array.from({ length: 12 }, (_, i) => ({
    lsn: i + 1,
    stream: 'blobs',
    body: new Uint8Array(randomBytes(1024 * 1024)),
  }))
  let settled = false
  const delivery = h.deliver(records).finally(() => {
    settled = true
  })
  const multipartDir = join(store.storageDir, '_multipart')
  for (let i = 0; i < 400 && !settled; i++) {
    if ((await readdir(multipartDir).catch(() => [])).length > 0) break
    await sleep(25)
  }
  // What the host does at its shutdown deadline: abort ctx.signal.
  h.abort(new Error('shutting down'))
  const outcome = await delivery.then(
    () => 'stored',
    () => 'aborted',
  )
  await h.close()
  const s3 = new S3Client({
    endpoint: store.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { ...kCredentials },
  })
  t.teardown(() => s3.destroy())
  const objects = await readObjects(s3, 'shutdown', '', 'msgpack', 'none')
  if (outcome === 'stored') {
    t.log('the upload finished before the abort')
    t.deepEqual(
      lsnsOf(objects).lsns,
      records.map((r) => r.lsn),
    )
  } else {
    t.log('aborted mid-upload')
    t.deepEqual(objects, [], 'no object: the multipart upload was aborted, never completed')
    // lib-storage sends AbortMultipartUpload on abort, but not when the abort races the
    // CreateMultipartUpload answer: leftovers are what the stale-upload sweep and the bucket's
    // lifecycle rule are for. Reported, not asserted.
    await sleep(200)
    t.log(`multipart uploads left on the store: ${(await readdir(multipartDir).catch(() => [])).length}`)
  }
})
