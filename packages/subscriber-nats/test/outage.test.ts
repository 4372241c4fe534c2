// NATS goes away and comes back: a nats-server child of our own (never the shared one on 4222),
// killed and restarted on the same port and store dir.

import { createTestHarness, type PartialRecord } from '@module-ingest/subscriber-sdk/testkit'
import { requireNatsServerBinary, startNatsServer } from '@module-ingest/testing'
import { jetstreamManager, StorageType } from '@nats-io/jetstream'
import { connect, nanos } from '@nats-io/transport-node'
import test from 'ava'
import sub from '../src/index.ts'
import { readStream } from './fixtures/stream.ts'

const ownNats = requireNatsServerBinary().gate(test)

// Short waits keep the suite quick; the values are bounds, never asserted durations.
const fast = {
  // Bounds how long init/publish wait for a connection. A freshly started nats-server on a loaded
  // 2-core CI box took over 300 ms to accept the first connect, failing init spuriously.
  unavailableWaitMs: 2000,
  publishTimeoutMs: 4000, // a loaded CI box can take seconds to ack; the waits below are bounds
  reconnectTimeWaitMs: 100,
  connectTimeoutMs: 1000,
}

const codeOf = (err: unknown) => (err as { code?: string } | undefined)?.code

/** What the runtime does with backoff: redeliver the failed batch until handle resolves. */
async function redeliverUntilStored(h: { redeliver(): Promise<unknown> }, maxAttempts = 40): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await h.redeliver()
      return
    } catch (err) {
      // Each failed attempt already waited unavailableWaitMs or publishTimeoutMs: no extra sleep.
      if (attempt >= maxAttempts) throw err
    }
  }
}

const batchOf = (from: number, n: number): PartialRecord[] =>
  Array.from({ length: n }, (_, i) => ({ lsn: from + i, seq: BigInt(from + i), body: `r${from + i}` }))

ownNats(
  'killed mid-stream: handle rejects, then after a restart everything is stored exactly once',
  async (t) => {
    await using server = await startNatsServer({ jetstream: true })
    const h = createTestHarness(sub, { config: { servers: server.url, stream: 'OUTAGE', ...fast } })
    t.teardown(() => h.close())
    await h.init()

    const perBatch = 300
    for (let b = 0; b < 3; b++) await h.deliver(batchOf(1 + b * perBatch, perBatch))

    // Kill the server while a batch is in flight: some records may be stored, none reported.
    const inFlight = h.deliver(batchOf(1 + 3 * perBatch, perBatch))
    await server.kill()
    const first = await t.throwsAsync(inFlight)
    t.regex(codeOf(first) ?? '', /^MI_ERR_NATS_(PUBLISH_FAILED|UNAVAILABLE)$/)

    // While it is down, every retry fails after the bounded wait; the records stay "in the log".
    const down = await t.throwsAsync(h.redeliver())
    t.is(codeOf(down), 'MI_ERR_NATS_UNAVAILABLE')

    await server.restart()
    // The runtime would retry with backoff; here: retry until the client has reconnected.
    await redeliverUntilStored(h)
    for (let b = 4; b < 6; b++) await h.deliver(batchOf(1 + b * perBatch, perBatch))

    const stored = await readStream(server.url, 'OUTAGE')
    const lsns = stored.map((m) => Number(m.headers['MI-Lsn']))
    t.is(stored.length, 6 * perBatch, 'no record lost, none duplicated')
    t.deepEqual(
      lsns,
      Array.from({ length: 6 * perBatch }, (_, i) => i + 1),
    )
    t.true(h.logs.some((l) => l.obj.event === 'NatsConnectionLost'))
  },
)

ownNats('NATS down at startup: init fails (bounded) until it is up, then works', async (t) => {
  await using server = await startNatsServer({ jetstream: true })
  await server.stop()
  const h = createTestHarness(sub, { config: { servers: server.url, stream: 'LATE', ...fast } })
  t.teardown(() => h.close())
  const err = await t.throwsAsync(h.init())
  t.is(codeOf(err), 'MI_ERR_NATS_UNAVAILABLE')
  t.regex((err as Error).message, /ECONNREFUSED|connect/i)

  await server.restart()
  // The runtime retries init (without spending batch attempts) until it succeeds.
  for (let attempt = 1; ; attempt++) {
    try {
      await h.init()
      break
    } catch (err) {
      if (attempt >= 40) throw err
    }
  }
  await h.deliver(batchOf(1, 10))
  t.is((await readStream(server.url, 'LATE')).length, 10)
})

ownNats('a retry skips records acked by the failed attempt, even beyond the duplicate window', async (t) => {
  await using server = await startNatsServer({ jetstream: true })
  const nc = await connect({ servers: server.url })
  t.teardown(() => nc.close())
  const jsm = await jetstreamManager(nc)
  // The stream captures only `nw.ok.>` at first, and forgets msg ids after 100 ms (the minimum):
  // JetStream's own dedupe cannot save a re-publish here, only the skip list can.
  const streamConfig = { name: 'NOWINDOW', storage: StorageType.File, duplicate_window: nanos(100) }
  await jsm.streams.add({ ...streamConfig, subjects: ['nw.ok.>'] })
  const h = createTestHarness(sub, {
    config: { servers: server.url, stream: 'NOWINDOW', subjectPrefix: 'nw', createStream: false, ...fast },
  })
  t.teardown(() => h.close())
  await h.init()
  // Record 1500 goes to a subject no stream captures yet: that publish fails (no responders).
  const records = batchOf(1, 2000).map((r) => ({ ...r, stream: r.lsn === 1500 ? 'late' : 'ok' }))
  const err = await t.throwsAsync(h.deliver(records))
  t.is(codeOf(err), 'MI_ERR_NATS_PUBLISH_FAILED')
  const before = (await jsm.streams.info('NOWINDOW')).state.messages
  t.true(before >= 1499, 'everything before the failing record was stored')

  await jsm.streams.update('NOWINDOW', { ...streamConfig, subjects: ['nw.>'] })
  // Let the 100 ms duplicate window pass, so only our skip list stands between us and duplicates.
  await new Promise((resolve) => setTimeout(resolve, 250))
  await h.redeliver()
  const stored = await readStream(server.url, 'NOWINDOW')
  t.deepEqual(
    stored.map((m) => Number(m.headers['MI-Lsn'])).sort((a, b) => a - b),
    Array.from({ length: 2000 }, (_, i) => i + 1),
    'every record stored exactly once',
  )
  t.is(h.metrics.counters.nats_skipped_records_total, before)
})

ownNats('close drains: everything handed over is stored', async (t) => {
  await using server = await startNatsServer({ jetstream: true })
  const h = createTestHarness(sub, { config: { servers: server.url, stream: 'CLOSE', ...fast } })
  t.teardown(() => h.close()) // if init fails, the waiting connect loop must still be stopped
  await h.init()
  await h.deliver(batchOf(1, 100))
  await h.close()
  t.is((await readStream(server.url, 'CLOSE')).length, 100)
})
