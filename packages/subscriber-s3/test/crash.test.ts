// The real `module-ingest serve` with an `s3` subscriber, SIGKILLed while it uploads (uploads
// acknowledged, offsets not yet committed), restarted on the same data dir: every record ends up
// in exactly one object. The S3 store (fauxqs) lives in this process and survives the kill.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@module-ingest/client'
import { startServerProcess } from '@module-ingest/testing'
import test from 'ava'
import { lsnsOf, readObjects, type StoredObject, startTestS3 } from './_fauxqs.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

test('SIGKILL mid-upload, restart: no record lost, none in two objects', async (t) => {
  await using s3 = await startTestS3()
  s3.createBucket('edge-crash')
  const dataDir = await mkdtemp(join(tmpdir(), 'mi-s3-crash-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const subscribers = JSON.stringify([
    {
      name: 'cloud',
      use: 's3',
      // Small windows: many objects, so the kill lands between uploads and offset commits.
      batch: { maxRecords: 40, maxWaitMs: 20 },
      options: { ...s3.options('edge-crash'), source: 'edge-1', prefix: 'crash' },
    },
  ])
  let server = await startServerProcess({ dataDir, set: { subscribers } })
  t.teardown(() => server.kill('SIGKILL'))
  const port = server.port
  const token = await server.devToken()

  const total = 600
  const send = async (from: number, to: number) => {
    const client = await connect({ port, module: 'sensor-1', auth: { token } })
    for (let i = from; i < to; i += 100) {
      const batch = []
      for (let j = i; j < Math.min(to, i + 100); j++)
        batch.push({ stream: j % 3 ? 'telemetry.a' : 'telemetry.b', body: `r${j}` })
      await client.sendBatch(batch)
    }
    await client.close()
  }
  await send(0, total / 2)
  // Kill once some (not all) objects are up: uploads acknowledged, offsets committed later.
  const count = async () => (await readObjects(s3.client(), 'edge-crash')).flatMap((o) => o.records).length
  await waitFor('the first uploads', async () => ((await count()) > 0 ? true : undefined))
  server.kill('SIGKILL')
  await server.exited
  const before = await count()
  t.log(`${before} of ${total / 2} records uploaded at the kill`)

  server = await startServerProcess({ dataDir, port, set: { subscribers } })
  await send(total / 2, total)
  const objects = await waitFor('every record in S3', async () => {
    const objs = await readObjects(s3.client(), 'edge-crash')
    return objs.flatMap((o) => o.records).length >= total ? objs : undefined
  })
  server.kill('SIGTERM')
  t.is(await server.exited, 0)

  const { lsns, duplicates } = lsnsOf(objects)
  t.deepEqual(duplicates, [], 'no lsn in two objects')
  t.is(lsns.length, total)
  const bodies = objects.flatMap((o: StoredObject) =>
    o.records.map((r) => Buffer.from(r.body, 'base64').toString()),
  )
  t.is(new Set(bodies).size, total, 'every record exactly once')
  const skippedLines = server.logs.filter(
    (l) => l.event === 'S3RecordsAlreadyStored' || l.msg === 'S3RecordsAlreadyStored',
  )
  t.log(`${skippedLines.length} redelivered batches found already stored`)
})
