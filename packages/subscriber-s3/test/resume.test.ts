// Resumption through the real subscriber runtime: the store is down long enough for the runtime's
// own backoff to have grown to seconds, then comes back. The uploader probes the store while it
// holds the batch and tells the runtime to retry at once (retryAfterMs 0), so the first upload
// after the restore follows within about a probe interval instead of the rest of a backoff sleep.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { ListObjectsV2Command } from '@aws-sdk/client-s3'
import { openLog } from '@module-ingest/log'
import { startSubscribers } from '@module-ingest/subscriber-runtime'
import { captureLogger, type LogLine } from '@module-ingest/testing/capture-logger'
import test from 'ava'
import { lsnsOf, readObjects, startTestS3 } from './_fauxqs.ts'

const kPlugin = fileURLToPath(new URL('../src/index.ts', import.meta.url))
const kRecords = 2000

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 60_000) {
  const until = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

test('store back after a long outage: first upload within ~a probe interval, not the runtime backoff; no dead letters, no duplicates', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mi-s3-resume-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const log = await openLog(dir)
  for (let i = 0; i < kRecords; i += 100) {
    const records = Array.from({ length: 100 }, (_, k) => ({
      stream: (i + k) % 2 === 0 ? 'a' : 'b',
      ts: 1_700_000_000_000_000 + i + k,
      body: Buffer.from(`reading ${i + k}`),
    }))
    log.append({ module: 'm1', core: '', seq: BigInt(i / 100 + 1), rts: 1_700_000_000_000_000 + i, records })
  }
  await log.sync()
  await log.close()

  await using s3 = await startTestS3()
  s3.createBucket('resume')
  await s3.stop()
  const lines: LogLine[] = []
  const emitted: { stream: string }[] = []
  const rt = await startSubscribers({
    dataDir: dir,
    logger: captureLogger(lines) as never,
    emit: async (records) => {
      emitted.push(...records)
    },
    subscribers: [
      {
        name: 'up',
        use: kPlugin,
        options: {
          ...s3.options('resume'),
          source: 'edge-1',
          offlineBackoff: { initialMs: 100, maxMs: 400 },
          offlineProbeMs: 200,
          sdkMaxAttempts: 1,
          connectTimeoutMs: 1000,
          requestTimeoutMs: 3000,
        },
        // The runtime's defaults: backoff 100 ms … 30 s.
        batch: { maxRecords: 500, maxBytes: 1 << 20, maxWaitMs: 20 },
      },
    ],
  })
  t.teardown(() => rt.close())

  // Ten consecutive failures: the runtime's own backoff would now be ≥ min(30 s, 100·2⁹)/2 = 15 s.
  const unavailable = () => lines.filter((l) => l.msg === 'SubscriberUnavailable')
  await waitFor('ten unavailable rounds', () => unavailable().length >= 10)
  const failures = unavailable().length
  const oldLowerBoundMs = Math.min(30_000, 100 * 2 ** (failures - 1)) / 2

  await s3.restart()
  const restoredAt = Date.now()
  const client = s3.client()
  const objects = async () =>
    (await client.send(new ListObjectsV2Command({ Bucket: 'resume' }))).KeyCount ?? 0
  await waitFor('the first object after the restore', async () => (await objects()) > 0)
  const resumeMs = Date.now() - restoredAt
  await waitFor('every record acknowledged', () => rt.stats()[0]!.ackedLsn >= kRecords)
  await rt.close()
  t.log(`resume ${resumeMs} ms after ${failures} failures (old backoff ≥ ${oldLowerBoundMs} ms)`)

  // A bound well below the old wait, with room for a loaded host (one probe ≤ 200 ms + one PUT).
  t.true(resumeMs < oldLowerBoundMs / 2, `resumed after ${resumeMs} ms`)
  // The hint never made a tight loop: every runtime wait is ≥ 0 and ≤ the floor (initialMs), and
  // consecutive failures are at least half the plugin's first backoff (its jitter floor) apart.
  const waits = unavailable().map((l) => l.obj.retryInMs as number)
  t.true(
    waits.every((w) => w >= 0 && w <= 100),
    JSON.stringify(waits),
  )
  const starts = unavailable().map((l) => l.atMs)
  for (let i = 1; i < starts.length; i++) t.true(starts[i]! - starts[i - 1]! >= 50, JSON.stringify(starts))

  const st = rt.stats()[0]!
  t.is(st.deadLettered, 0)
  t.deepEqual(
    emitted.filter((r) => r.stream.startsWith('dlq.')),
    [],
  )
  const { lsns, duplicates } = lsnsOf(await readObjects(client, 'resume'))
  t.deepEqual(duplicates, [])
  t.is(lsns.length, kRecords)
  t.is(lsns[0], 1, 'lsns start at 1')
  t.is(lsns.at(-1), kRecords)
})
