// A host that takes derived records packed (emitPacked, as the server does): one buffer per batch
// in the log's record format, appended as it is; the offset waits for it as for `emit`.
import { join } from 'node:path'
import { type PackedRecords, unpackRecords } from '@module-ingest/log/packed'
import test from 'ava'
import { startSubscribers } from '../src/index.ts'
import { captureLogger, fixture, tempDir, waitFor, writeRecords } from './fixtures/_harness.ts'

test('emitPacked gets each batch’s derived records packed; a failed append is retried and holds the offset', async (t) => {
  const dir = tempDir(t)
  const last = await writeRecords(dir, 60)
  const packs: PackedRecords[] = []
  let calls = 0
  const logger = captureLogger()
  const rt = await startSubscribers({
    dataDir: dir,
    logger,
    emit: async () => t.fail('derived records go packed'),
    emitPacked: async (packed) => {
      if (calls++ === 0) throw new Error('log unavailable')
      packs.push(packed)
    },
    commitIntervalMs: 20,
    commitEveryBatches: 1,
    subscribers: [
      {
        name: 'scorer',
        use: fixture('_ok-plugin.ts'),
        options: { out: join(dir, 'o.txt'), emitStream: 'scores' },
        batch: { maxRecords: 20, maxBytes: 1 << 20, maxWaitMs: 20 },
        backoff: { initialMs: 5, maxMs: 20 },
      },
    ],
  })
  t.teardown(() => rt.close())
  await waitFor('every batch appended and acked', () => rt.stats()[0]!.ackedLsn === last + 1)
  await rt.close()
  t.is(calls, 4, 'three batches, the first append tried twice')
  t.true(packs.every((p) => p.length === 20 && p.streams.length === 1 && p.streams[0] === 'scores'))
  // A retried append may land after later batches' (README, Limitations): compare as a set.
  t.deepEqual(
    packs
      .flatMap((p) => unpackRecords(p).map((r) => Number(Buffer.from(r.body).toString().slice(8))))
      .sort((a, b) => a - b),
    Array.from({ length: last }, (_, i) => i + 1),
    'the retried append carried the same records',
  )
  const s = rt.stats()[0]!
  t.is(s.emitted, last)
  t.is(s.nextLsn, last + 1)
  t.is(logger.lines.filter((l) => l.msg === 'SubscriberEmitError').length, 1)
})
