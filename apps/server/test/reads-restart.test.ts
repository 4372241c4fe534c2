/**
 * The read APIs' thread is restarted when it dies (src/reads.ts): started in-process on a real
 * port, ended as a crash would end it, and answering again on the same port after the backoff,
 * with the exit and the restart logged. Ingest never depends on this thread; reads are down only
 * between the exit and the restart.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createOperator } from '@module-ingest/auth'
import { createLogger, getRecentLogs, Metrics } from '@module-ingest/telemetry'
import test from 'ava'
import { startReadsThread } from '../src/reads.ts'

/** Any HTTP answer (a 404 will do: no store is configured) or null when nothing listens. */
async function answers(port: number): Promise<number | null> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/kv/v1/keys?ns=x`)).status
  } catch {
    return null
  }
}

test('a reads thread that dies is started again on the same port, and says so in the log', async (t) => {
  t.timeout(60_000)
  const dir = mkdtempSync(join(tmpdir(), 'mi-reads-restart-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const credentialsFile = join(dir, 'credentials.json')
  await createOperator(credentialsFile, { name: 'ops', scopes: ['read:*'] })
  const logger = createLogger({ stdout: false, level: 'debug' })
  const reads = await startReadsThread(
    { listen: { host: '127.0.0.1', port: 0 }, nice: 0, kv: [], indexes: [], logDir: dir, credentialsFile },
    logger,
    new Metrics(),
  )
  t.teardown(() => reads.close())
  const { port } = reads.address
  t.not(await answers(port), null, 'the first thread answers')

  await reads.crashForTests()
  // Down until the restart (1 s backoff), then up on the same port: poll, no timing asserted.
  let back: number | null = null
  for (const deadline = Date.now() + 30_000; back === null && Date.now() < deadline; await sleep(100))
    back = await answers(port)
  t.not(back, null, 'the restarted thread answers on the same port')
  const events = getRecentLogs(logger, 100).map((l) => (typeof l === 'string' ? JSON.parse(l) : l).event)
  t.true(events.includes('ReadsThreadExited'), events.join(','))
  t.true(events.includes('ReadsThreadRestarted'), events.join(','))

  await reads.close()
  t.is(await answers(port), null, 'closed: the port is released')
})
