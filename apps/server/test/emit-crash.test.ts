/**
 * Derived records across SIGKILL: a subscriber emits one record per input (fixtures/ts-echo-plugin)
 * while ingest runs; the server is killed mid-load and restarted, several times. Its offset may pass
 * an input only once the input's emits are durable (the writer waits for the group commit covering
 * them), so afterwards every input has its derived record, and an input has two only when it was
 * redelivered after a kill: its first copy is at or before that kill's last durable lsn, the second
 * after it. A missing one means the offset passed an emit that was not appended or not durable.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect } from '@module-ingest/client'
import { openLog, openReader, type StoredRecord } from '@module-ingest/log'
import { startServerProcess } from '@module-ingest/testing'
import test from 'ava'

const ROUNDS = process.env.MI_SOAK === '1' ? 12 : 3
const kInput = 'telemetry.emitcrash'
const kDerived = 'ts.echo'

async function readLog(dataDir: string): Promise<StoredRecord[]> {
  const reader = await openReader(join(dataDir, 'log'))
  const cursor = reader.cursor({ fromLsn: 1 })
  const out: StoredRecord[] = []
  for (let got = await cursor.read({ maxRecords: 50_000 }); got.length > 0; ) {
    out.push(...got)
    got = await cursor.read({ maxRecords: 50_000 })
  }
  await reader.close()
  return out
}

/** Log lines worth showing: warnings and errors (an emit that failed and was retried, ...). */
const notable = (l: Record<string, unknown>): boolean => typeof l.level === 'number' && l.level >= 40

/** The input body each derived record was made from (ts-echo emits `{ body, ... }`). */
const source = (r: StoredRecord): string => JSON.parse(Buffer.from(r.body).toString()).body

test('SIGKILL during emit-heavy load: every input has its derived record, twice only when redelivered', async (t) => {
  t.timeout(300_000, 'a loaded machine: server starts and catching up are slow')
  const dataDir = await mkdtemp(join(tmpdir(), 'mi-emit-crash-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const echo = {
    name: 'echo',
    use: fileURLToPath(new URL('./fixtures/ts-echo-plugin.ts', import.meta.url)),
    streams: [kInput],
    batch: { maxRecords: 64 },
  }
  const set = { subscribers: JSON.stringify([echo]) }
  let server = await startServerProcess({ dataDir, set })
  const port = server.port
  const client = await connect({
    port,
    module: 'emit-crash',
    auth: { token: await server.devToken() },
    window: 256,
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
  })
  let n = 0
  const produce = async (stop: { now: boolean }) => {
    const inFlight = new Set<Promise<unknown>>()
    while (!stop.now) {
      const records = Array.from({ length: 16 }, () => ({ stream: kInput, body: `in:${n++}` }))
      const p = client.sendBatch(records).catch(() => {})
      inFlight.add(p)
      void p.finally(() => inFlight.delete(p))
      // ~8k records/s: enough to keep groups and emits interleaved, light enough to check quickly.
      await new Promise((r) => setTimeout(r, 2))
      if (inFlight.size >= 64) await Promise.race(inFlight)
    }
    await Promise.all(inFlight)
  }
  /** Per kill: the last lsn recovery keeps once the server was gone. */
  const kills: number[] = []
  /** Warnings and errors the servers logged (shown when a check fails). */
  const warnings: Array<Record<string, unknown>> = []
  for (let round = 0; round < ROUNDS; round++) {
    const stop = { now: false }
    const producing = produce(stop)
    // Long enough for the subscriber to deliver and emit while ingest keeps committing groups.
    await new Promise((r) => setTimeout(r, 600 + Math.random() * 600))
    server.kill('SIGKILL')
    await server.exited
    warnings.push(...server.logs.filter(notable))
    // The boundary is what recovery keeps: a group written but not yet fdatasynced at the kill is
    // still in the page cache and survives (it was never reported durable, so never counted done).
    const recovered = await openLog(join(dataDir, 'log'))
    kills.push(recovered.durableLsn)
    await recovered.close()
    const log = await readLog(dataDir)
    t.log(
      `round ${round}: killed at lsn ${kills.at(-1)}, ${log.filter((r) => r.stream === kDerived).length} derived`,
    )
    server = await startServerProcess({ dataDir, port, set })
    await new Promise((r) => setTimeout(r, 300))
    stop.now = true
    await client.flush()
    await producing
  }
  await client.close()

  // Let the subscriber catch up on everything stored, then stop it cleanly.
  let records: StoredRecord[] = []
  let missing: string[] = []
  const deadline = Date.now() + 60_000
  do {
    await new Promise((r) => setTimeout(r, 250))
    records = await readLog(dataDir)
    const derived = new Set(records.filter((r) => r.stream === kDerived).map(source))
    missing = records
      .filter((r) => r.stream === kInput && !derived.has(Buffer.from(r.body).toString()))
      .map((r) => `lsn ${r.lsn} ${Buffer.from(r.body).toString()}`)
  } while (missing.length > 0 && Date.now() < deadline)
  server.kill('SIGTERM')
  t.is(await server.exited, 0)
  warnings.push(...server.logs.filter(notable))
  for (const w of warnings.slice(0, 20)) t.log(JSON.stringify(w).slice(0, 400))
  t.deepEqual(missing.slice(0, 20), [], 'inputs without a derived record')

  const inputs = records.filter((r) => r.stream === kInput)
  t.true(inputs.length > 0)
  const copies = new Map<string, number[]>()
  for (const r of records)
    if (r.stream === kDerived) copies.set(source(r), [...(copies.get(source(r)) ?? []), r.lsn])
  // Every derived record comes from a stored input, and after it.
  const inputLsn = new Map(inputs.map((r) => [Buffer.from(r.body).toString(), r.lsn]))
  for (const [body, lsns] of copies) {
    t.true(inputLsn.has(body), `derived from an input that is not stored: ${body}`)
    t.true(lsns[0]! > inputLsn.get(body)!, `derived before its input: ${body}`)
  }
  // Two copies only across a kill (redelivery from the committed offset), never two in one run.
  let redelivered = 0
  for (const [body, lsns] of copies) {
    for (let i = 1; i < lsns.length; i++) {
      const across = kills.some((k) => lsns[i - 1]! <= k && lsns[i]! > k)
      const ins = inputs.filter((r) => Buffer.from(r.body).toString() === body).map((r) => r.lsn)
      t.true(
        across,
        `${body} (input lsn ${ins.join(', ')}) derived twice without a kill between: lsns ${lsns.join(', ')}`,
      )
      redelivered++
    }
  }
  t.log(`${inputs.length} inputs, ${copies.size} derived, ${redelivered} redelivered after a kill`)
})
