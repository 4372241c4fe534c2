// Records go up and come back: read every object from a real S3-compatible server (fauxqs on
// loopback) and compare with what was delivered, record by record.
import { randomBytes } from 'node:crypto'
import { HeadObjectCommand } from '@aws-sdk/client-s3'
import { createTestHarness, type PartialRecord } from '@module-ingest/subscriber-sdk/testkit'
import test from 'ava'
import sub from '../src/index.ts'
import { lsnsOf, readObjects, startTestS3 } from './_fauxqs.ts'

const hourUs = 3_600_000_000
const t0 = Date.UTC(2026, 11, 6, 9, 30) * 1000 // µs

/** Records of two streams, interleaved, spanning an hour boundary after `hourAt` records. */
function records(from: number, n: number, hourAt = Number.POSITIVE_INFINITY): PartialRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const lsn = from + i
    const rts = t0 + (lsn >= hourAt ? hourUs : 0) + lsn
    return {
      lsn,
      seq: BigInt(lsn),
      stream: lsn % 3 === 0 ? 'telemetry.gps' : 'telemetry.temp',
      module: `m${lsn % 2}`,
      rts,
      ts: rts,
      body: lsn % 5 === 0 ? new Uint8Array([0, 255, lsn & 0xff, 7]) : `{"v":${lsn}}`,
    }
  })
}

const bodyOf = (p: PartialRecord) =>
  Buffer.from(typeof p.body === 'string' ? p.body : (p.body as Uint8Array)).toString('base64')

test('NDJSON + zstd: one object per (stream, hour), keys from the template, every record back', async (t) => {
  await using s3 = await startTestS3()
  s3.createBucket('edge-archive')
  await using h = createTestHarness(sub, {
    config: { ...s3.options('edge-archive'), prefix: 'site-a', source: 'edge-1' },
  })
  await h.init()
  const sent = records(1, 200, 150)
  await h.deliver(sent.slice(0, 120))
  await h.deliver(sent.slice(120))

  const objects = await readObjects(s3.client(), 'edge-archive')
  const keys = objects.map((o) => o.key).sort()
  t.deepEqual(keys, [
    'site-a/telemetry.gps/2026/12/06/09/edge-1-000000000003-000000000120.ndjson.zst',
    'site-a/telemetry.gps/2026/12/06/09/edge-1-000000000123-000000000147.ndjson.zst',
    'site-a/telemetry.gps/2026/12/06/10/edge-1-000000000150-000000000198.ndjson.zst',
    'site-a/telemetry.temp/2026/12/06/09/edge-1-000000000001-000000000119.ndjson.zst',
    'site-a/telemetry.temp/2026/12/06/09/edge-1-000000000121-000000000149.ndjson.zst',
    'site-a/telemetry.temp/2026/12/06/10/edge-1-000000000151-000000000200.ndjson.zst',
  ])
  const { lsns, duplicates } = lsnsOf(objects)
  t.deepEqual(duplicates, [])
  t.deepEqual(
    lsns,
    sent.map((r) => r.lsn),
  )
  const byLsn = new Map(objects.flatMap((o) => o.records.map((r) => [r.lsn, r] as const)))
  for (const want of sent) {
    const got = byLsn.get(want.lsn!)!
    t.like(got, {
      lsn: want.lsn,
      stream: want.stream,
      module: want.module,
      core: '',
      seq: String(want.seq),
      rts: want.rts,
      ts: want.ts,
      bodyEncoding: 'base64',
      body: bodyOf(want),
    })
  }
  const m = h.metrics
  t.is(m.counters.s3_objects_uploaded_total, 6)
  t.is(m.counters.s3_uploaded_records_total, 200)
  t.true(m.counters.s3_uploaded_bytes_total! > 0)
  t.is(m.histograms.s3_upload_duration_us?.length, 6)
  t.is(m.gauges.s3_backlog_records, 0)
  t.true(m.gauges.s3_last_success_time_seconds! > 0)
})

test('text bodies + gzip, and length-prefixed msgpack without compression', async (t) => {
  await using s3 = await startTestS3()
  s3.createBucket('formats')
  const sent = records(1, 50)
  await using text = createTestHarness(sub, {
    config: { ...s3.options('formats'), prefix: 'text', body: 'text', compression: 'gzip', source: 'h' },
  })
  await using packed = createTestHarness(sub, {
    config: { ...s3.options('formats'), prefix: 'mp', format: 'msgpack', compression: 'none', source: 'h' },
  })
  await text.init()
  await packed.init()
  const textual = sent.filter((r) => typeof r.body === 'string')
  await text.deliver(textual)
  await packed.deliver(sent)

  const asText = await readObjects(s3.client(), 'formats', 'text/', 'ndjson', 'gzip')
  t.true(asText.every((o) => o.key.endsWith('.ndjson.gz')))
  const textRecords = asText.flatMap((o) => o.records).sort((a, b) => a.lsn - b.lsn)
  t.deepEqual(
    textRecords.map((r) => [r.lsn, r.bodyEncoding, r.body]),
    textual.map((r) => [r.lsn, 'utf8', r.body]),
  )

  const asPack = await readObjects(s3.client(), 'formats', 'mp/', 'msgpack', 'none')
  t.true(asPack.every((o) => o.key.endsWith('.msgpack')))
  const packRecords = asPack.flatMap((o) => o.records).sort((a, b) => a.lsn - b.lsn)
  t.deepEqual(
    packRecords.map((r) => [r.lsn, r.stream, r.seq, r.body]),
    sent.map((r) => [r.lsn, r.stream, String(r.seq), bodyOf(r)]),
  )
})

test('objects past partSizeBytes go up as multipart uploads; maxObjectRecords splits objects', async (t) => {
  await using s3 = await startTestS3()
  s3.createBucket('big-objects')
  await using h = createTestHarness(sub, {
    config: {
      ...s3.options('big-objects'),
      compression: 'none',
      format: 'msgpack',
      partSizeBytes: 5 * 1024 * 1024,
      maxObjectRecords: 5,
      source: 'h',
    },
  })
  await h.init()
  // 6 records of 1 MiB (random): objects of 5 + 1 records, the first (> 5 MiB) multipart.
  const big = Array.from({ length: 6 }, (_, i) => ({
    lsn: i + 1,
    stream: 'blobs',
    body: new Uint8Array(randomBytes(1024 * 1024)),
  }))
  await h.deliver(big)
  const objects = await readObjects(s3.client(), 'big-objects', '', 'msgpack', 'none')
  t.deepEqual(
    objects.map((o) => o.records.length),
    [5, 1],
  )
  t.deepEqual(lsnsOf(objects).lsns, [1, 2, 3, 4, 5, 6])
  // A multipart object's ETag is "<md5 of part md5s>-<parts>".
  const head = await s3.client().send(new HeadObjectCommand({ Bucket: 'big-objects', Key: objects[0]!.key }))
  t.regex(head.ETag ?? '', /-2"?$/)
  t.is(head.Metadata?.['mi-first-lsn'], '1')
  t.is(head.Metadata?.['mi-last-lsn'], '5')
  const first = objects[0]!.records[0]!
  t.is(first.body, Buffer.from(big[0]!.body).toString('base64'))
})
