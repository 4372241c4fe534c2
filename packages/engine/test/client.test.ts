/**
 * The producer SDK against the real engine (its own tests use a fake server): acks, NACKs with
 * their code, batches, MAC sessions, and resume across a server restart without loss or duplicates.
 */
import { connect } from '@module-ingest/client'
import { openReader } from '@module-ingest/log'
import { ErrorCode } from '@module-ingest/protocol'
import { freePort } from '@module-ingest/testing'
import test from 'ava'
import { startTestServer } from './fixtures/_server.ts'

async function bodiesOf(dataDir: string, module: string): Promise<string[]> {
  const reader = await openReader(`${dataDir}/log`)
  const cursor = reader.cursor({ fromLsn: 1 })
  const out: string[] = []
  for (
    let batch = await cursor.read({ maxRecords: 10_000 });
    batch.length > 0;
    batch = await cursor.read({})
  ) {
    for (const r of batch) if (r.module === module) out.push(Buffer.from(r.body).toString())
  }
  await reader.close()
  return out
}

test('send resolves on ACK, rejects on NACK with the MIP/1 code; batches and MAC sessions work', async (t) => {
  const s = await startTestServer()
  t.teardown(() => s.stop())
  const client = await connect({ port: s.port, module: 'sensor-sdk', auth: { token: s.token } })
  t.is(await client.send('telemetry.sdk', 'one'), 1n)
  const err = await t.throwsAsync(client.send('forbidden.stream', 'nope'))
  t.is((err as unknown as { wireCode: number }).wireCode, ErrorCode.FORBIDDEN)
  await client.sendBatch([
    { stream: 'telemetry.sdk', body: 'b1' },
    { stream: 'telemetry.sdk', body: 'b2' },
  ])
  await client.sendBatch([{ stream: 'telemetry.sdk', body: 'z' }], { compress: true })
  await client.close()

  const hmac = await connect({ port: s.port, module: 'hmac-1', auth: { hmacKey: s.hmacKey }, mac: true })
  await hmac.send('any.stream', 'signed')
  await hmac.close()
  t.deepEqual(await bodiesOf(s.dataDir, 'sensor-sdk'), ['one', 'b1', 'b2', 'z'])
  t.deepEqual(await bodiesOf(s.dataDir, 'hmac-1'), ['signed'])
})

test('a client resumes across a server restart: nothing awaited is lost, nothing is stored twice', async (t) => {
  const port = await freePort()
  const s = await startTestServer({ listen: `127.0.0.1:${port}` })
  t.teardown(() => s.stop())
  const client = await connect({
    port,
    module: 'sensor-resume',
    auth: { token: s.token },
    reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
  })
  const sent: Array<Promise<bigint>> = []
  for (let i = 0; i < 500; i++) sent.push(client.send('telemetry.resume', `r${i}`))
  await Promise.all(sent.slice(0, 100))
  await s.restart() // graceful: in-flight frames past the drain are resent by the client
  for (let i = 500; i < 1000; i++) sent.push(client.send('telemetry.resume', `r${i}`))
  await Promise.all(sent)
  await client.close()
  const bodies = await bodiesOf(s.dataDir, 'sensor-resume')
  t.is(bodies.length, 1000)
  t.is(new Set(bodies).size, 1000)
})
