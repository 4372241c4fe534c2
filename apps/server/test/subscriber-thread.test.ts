/**
 * The subscriber runtime on its own thread (subscriberRuntime.thread, the default) and on the main
 * thread (`false`), in a real server: derived records land in the log, and a clean shutdown
 * commits the subscriber's offset past everything it was handed.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect } from '@module-ingest/client'
import { openReader, type StoredRecord } from '@module-ingest/log'
import { startServerProcess } from '@module-ingest/testing'
import test from 'ava'

const kInput = 'telemetry.thread'

async function readLog(dataDir: string): Promise<{ records: StoredRecord[]; committed: number }> {
  const reader = await openReader(join(dataDir, 'log'))
  const cursor = reader.cursor({ fromLsn: 1 })
  const records: StoredRecord[] = []
  for (let got = await cursor.read({ maxRecords: 50_000 }); got.length > 0; ) {
    records.push(...got)
    got = await cursor.read({ maxRecords: 50_000 })
  }
  const committed = reader.groups.get('sub.echo')
  await reader.close()
  return { records, committed }
}

for (const thread of [true, false]) {
  test(`subscriberRuntime.thread ${thread}: emits land in the log, shutdown commits the offset`, async (t) => {
    t.timeout(120_000, 'a loaded machine: the server starts slowly')
    const dataDir = await mkdtemp(join(tmpdir(), 'mi-subthread-'))
    t.teardown(() => rm(dataDir, { recursive: true, force: true }))
    const echo = {
      name: 'echo',
      use: fileURLToPath(new URL('./fixtures/ts-echo-plugin.ts', import.meta.url)),
      streams: [kInput],
      batch: { maxRecords: 50, maxWaitMs: 10 },
    }
    const server = await startServerProcess({
      dataDir,
      set: { subscribers: JSON.stringify([echo]), 'subscriberRuntime.thread': thread },
    })
    const client = await connect({
      port: server.port,
      module: 'thread',
      auth: { token: await server.devToken() },
    })
    const n = 500
    for (let i = 0; i < n; i += 50)
      await client.sendBatch(Array.from({ length: 50 }, (_, k) => ({ stream: kInput, body: `in:${i + k}` })))
    await client.close()
    // Every input echoed: read the log until the derived records are all there.
    let derived = 0
    for (const deadline = Date.now() + 60_000; derived < n && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 200))
      derived = (await readLog(dataDir)).records.filter((r) => r.stream === 'ts.echo').length
    }
    server.kill('SIGTERM')
    t.is(await server.exited, 0)
    const { records, committed } = await readLog(dataDir)
    const inputs = records.filter((r) => r.stream === kInput)
    const echoed = new Set(
      records
        .filter((r) => r.stream === 'ts.echo')
        .map((r) => JSON.parse(Buffer.from(r.body).toString()).body),
    )
    t.is(inputs.length, n)
    t.true(
      inputs.every((r) => echoed.has(Buffer.from(r.body).toString())),
      'every input has its derived record',
    )
    t.true(committed > inputs.at(-1)!.lsn, 'the offset is committed past the last input')
    const started = server.logs.find((l) => l.event === 'SubscriberThreadStarted')
    if (thread) t.is(typeof started?.nice, 'number', 'the runtime started on its own thread')
    else t.is(started, undefined, 'on the main thread: no runtime thread')
  })
}
