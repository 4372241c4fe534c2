/**
 * Worker heap caps (issue 11, workers.parserHeapMb / workers.writerHeapMb), against the real
 * `module-ingest serve`: a worker whose heap runs away (the MI_TEST_GROW_HEAP hook, src/test-hook.ts)
 * is terminated at its cap, and the server exits non-zero at once with MI_ERR_ENGINE_WORKER_MEMORY
 * naming the worker, the limit and its config key. Nothing acknowledged is lost: a restart on the
 * same data directory serves every ACKed record.
 */
import { writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@module-ingest/client'
import { openReader } from '@module-ingest/log'
import { startServerProcess } from '@module-ingest/testing'
import test from 'ava'

const CAP_MB = 32
const RECORDS = 200

for (const [worker, key] of [
  ['parser-0', 'workers.parserHeapMb'],
  ['writer', 'workers.writerHeapMb'],
] as const) {
  test(`the ${worker} worker reaching its heap cap: coded error, exit 1, every ACKed record kept`, async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'mi-heap-'))
    const trigger = join(dataDir, 'grow-now')
    const set = { subscribers: '[]', 'workers.parsers': 1, [key]: CAP_MB }
    const server = await startServerProcess({
      dataDir,
      set,
      env: { MI_TEST_GROW_HEAP: `${worker}:${trigger}` },
    })
    t.teardown(async () => {
      server.kill('SIGKILL')
      await server.exited
      await rm(dataDir, { recursive: true, force: true })
    })
    const token = await server.devToken()
    const client = await connect({ port: server.port, module: 'heap-1', auth: { token } })
    const bodies = Array.from({ length: RECORDS }, (_, i) => `acked:${i}`)
    await Promise.all(bodies.map((b) => client.send('telemetry.heap', b)))
    t.is(client.stats.acked, RECORDS)

    writeFileSync(trigger, '')
    t.is(await server.exited, 1)
    await client.close({ timeoutMs: 500 }).catch(() => {})
    const crash = server.logs.find((l) => l.event === 'EngineWorkerCrashed')
    const err = crash?.err as { code?: string; message?: string } | undefined
    t.is(err?.code, 'MI_ERR_ENGINE_WORKER_MEMORY')
    t.true(
      err?.message?.startsWith(`the ${worker} worker reached its heap limit of ${CAP_MB} MB (${key})`),
      err?.message,
    )

    // Restart without the hook: recovery serves every acknowledged record.
    const again = await startServerProcess({ dataDir, set })
    again.kill('SIGTERM')
    t.is(await again.exited, 0)
    const reader = await openReader(join(dataDir, 'log'))
    const cursor = reader.cursor({ fromLsn: 1 })
    const seen = new Set<string>()
    for (;;) {
      const batch = await cursor.read({ maxRecords: 10_000 })
      if (batch.length === 0) break
      for (const r of batch) if (r.module === 'heap-1') seen.add(Buffer.from(r.body).toString())
    }
    await reader.close()
    t.deepEqual(
      bodies.filter((b) => !seen.has(b)),
      [],
    )
  })
}
