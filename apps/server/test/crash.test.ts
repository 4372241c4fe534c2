/**
 * The durability promise against the real `module-ingest serve` process: every acknowledged record
 * survives SIGKILL exactly once, clients resume without duplicates, and SIGTERM loses nothing.
 * Rounds scale with MI_SOAK=1.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Client, connect } from '@module-ingest/client'
import { openReader, type StoredRecord } from '@module-ingest/log'
import { ErrorCode } from '@module-ingest/protocol'
import { MipSocket, startServerProcess } from '@module-ingest/testing'
import test from 'ava'

const ROUNDS = process.env.MI_SOAK === '1' ? 25 : 3
const PRODUCERS = 4

async function readLog(dataDir: string): Promise<StoredRecord[]> {
  const reader = await openReader(join(dataDir, 'log'))
  const cursor = reader.cursor({ fromLsn: 1 })
  const out: StoredRecord[] = []
  for (;;) {
    const batch = await cursor.read({ maxRecords: 50_000 })
    if (batch.length === 0) break
    out.push(...batch)
  }
  await reader.close()
  return out
}

/** Keep `send`ing until stopped; remember every seq whose promise resolved (acknowledged). */
const counters = new Map<string, number>()
function produce(client: Client, module: string, acked: Set<string>, stop: { now: boolean }): Promise<void> {
  return (async () => {
    let n = counters.get(module) ?? 0
    const inFlight = new Set<Promise<void>>()
    while (!stop.now) {
      const i = n++
      counters.set(module, n)
      const p: Promise<void> = (
        i % 10 === 0
          ? client.sendBatch([
              { stream: 'telemetry.crash', body: `${module}:${i}:a` },
              { stream: 'telemetry.crash', body: `${module}:${i}:b` },
            ])
          : client.send('telemetry.crash', `${module}:${i}`)
      ).then(
        (seq) => {
          acked.add(`${module}/${seq}`)
        },
        () => {},
      )
      inFlight.add(p)
      void p.finally(() => inFlight.delete(p))
      if (inFlight.size >= 256) await Promise.race(inFlight)
    }
  })()
}

test('SIGKILL under load: every acknowledged record is stored exactly once; clients resume', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mi-crash-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  let server = await startServerProcess({ dataDir, set: { subscribers: '[]' } })
  const port = server.port
  const token = await server.devToken()
  const acked = new Set<string>()
  const clients = await Promise.all(
    Array.from({ length: PRODUCERS }, (_, i) =>
      connect({
        port,
        module: `crash-${i}`,
        auth: { token },
        window: 256,
        reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
      }),
    ),
  )
  for (let round = 0; round < ROUNDS; round++) {
    const stop = { now: false }
    const producers = clients.map((c, i) => produce(c, `crash-${i}`, acked, stop))
    await new Promise((r) => setTimeout(r, 300 + Math.random() * 700))
    server.kill('SIGKILL')
    await server.exited
    const before = acked.size
    server = await startServerProcess({ dataDir, port, set: { subscribers: '[]' } })
    // Let the clients reconnect and resume before stopping this round's producers.
    await new Promise((r) => setTimeout(r, 500))
    stop.now = true
    await Promise.all(clients.map((c) => c.flush()))
    await Promise.all(producers)
    t.log(`round ${round}: ${before} acked before the kill, ${acked.size} after resuming`)
  }
  await Promise.all(clients.map((c) => c.close()))
  server.kill('SIGTERM')
  t.is(await server.exited, 0)

  const records = await readLog(dataDir)
  const stored = new Map<string, number>()
  for (const r of records) {
    const key = `${r.module}/${r.seq}`
    stored.set(key, (stored.get(key) ?? 0) + 1)
  }
  const missing = [...acked].filter((k) => !stored.has(k))
  t.deepEqual(missing, [], 'acknowledged but not stored')
  // A BATCH stores two records under one seq; anything else twice is a duplicate.
  const bodies = new Map<string, number>()
  const where = new Map<string, string[]>()
  for (const r of records) {
    const body = Buffer.from(r.body).toString()
    bodies.set(body, (bodies.get(body) ?? 0) + 1)
    where.set(body, [...(where.get(body) ?? []), `lsn ${r.lsn} seq ${r.seq}`])
  }
  for (const [b, n] of bodies) if (n > 1) t.log(b, where.get(b)?.join(', '))
  t.deepEqual(
    [...bodies].filter(([, n]) => n > 1),
    [],
    'a record stored twice',
  )
  // Batches are all-or-nothing.
  for (const r of records) {
    const body = Buffer.from(r.body).toString()
    if (body.endsWith(':a')) t.true(bodies.has(`${body.slice(0, -2)}:b`), `half a batch: ${body}`)
  }
  t.true(acked.size > 0)
})

test('SIGTERM: graceful shutdown exits 0, clients are told SHUTTING_DOWN, nothing acknowledged is lost', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mi-term-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const server = await startServerProcess({ dataDir, set: { subscribers: '[]' } })
  const token = await server.devToken()
  const client = await connect({ port: server.port, module: 'term-1', auth: { token }, reconnect: false })
  const idle = await MipSocket.session(server.port, { module: 'term-idle', token })
  const acked: bigint[] = []
  const sends: Array<Promise<unknown>> = []
  for (let i = 0; i < 2000; i++) sends.push(client.send('telemetry.term', `t${i}`).then((s) => acked.push(s)))
  await new Promise((r) => setTimeout(r, 50))
  server.kill('SIGTERM')
  t.is(await idle.sock.expectError(), ErrorCode.SHUTTING_DOWN)
  t.is(await server.exited, 0)
  await Promise.allSettled(sends)
  await client.close().catch(() => {})
  t.true(server.logs.some((l) => l.event === 'ServerShutdownCompleted'))
  const stored = new Set((await readLog(dataDir)).map((r) => r.seq))
  t.deepEqual(
    acked.filter((s) => !stored.has(s)),
    [],
  )
})
