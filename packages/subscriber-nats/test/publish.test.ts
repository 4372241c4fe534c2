// Against the shared nats-server on 127.0.0.1:4222 (skips loudly when it is absent, fails in CI).
// Each test uses its own stream and subject prefix, and deletes the stream afterwards.

import { createTestHarness } from '@module-ingest/subscriber-sdk/testkit'
import { requireService } from '@module-ingest/testing'
import { jetstream } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import test from 'ava'
import sub, { type NatsSubscriberOptions } from '../src/index.ts'
import { deleteStream, readStream, uniqueName } from './fixtures/stream.ts'

const servers = 'nats://127.0.0.1:4222'
const nats = await requireService({ name: 'NATS with JetStream', host: '127.0.0.1', port: 4222 })
const natsTest = nats.gate(test)

async function harness(t: { teardown(fn: () => Promise<void>): void }, options: NatsSubscriberOptions = {}) {
  const stream = uniqueName('MI_TEST')
  const config = { servers, stream, subjectPrefix: uniqueName('mitest'), ...options }
  const h = createTestHarness(sub, { config, name: `nats-${stream}` })
  t.teardown(async () => {
    await h.close()
    await deleteStream(servers, stream)
  })
  await h.init()
  return { h, stream, prefix: config.subjectPrefix }
}

natsTest('a batch is stored in log order, with Nats-Msg-Id and MI-* headers', async (t) => {
  const { h, stream, prefix } = await harness(t, { source: 'edge-a' })
  const records = Array.from({ length: 200 }, (_, i) => ({
    body: `r${i}`,
    module: i % 2 ? 'mod-odd' : 'mod-even',
    core: i % 3 ? 'c1' : '',
    seq: BigInt(1000 + Math.floor(i / 10)),
    ts: 1_700_000_000_000_000 + i,
    rts: 1_700_000_000_500_000 + i,
  }))
  await h.deliver(records)
  const stored = await readStream(servers, stream)
  t.is(stored.length, 200)
  t.deepEqual(
    stored.map((m) => m.body),
    records.map((r) => r.body),
  )
  const [first, second] = stored
  t.is(first!.subject, `${prefix}.test.mod-even`)
  t.like(first!.headers, {
    'Nats-Msg-Id': 'edge-a:1:mod-even::1000',
    'MI-Source': 'edge-a',
    'MI-Stream': 'test',
    'MI-Module': 'mod-even',
    'MI-Core': '',
    'MI-Seq': '1000',
    'MI-Ts': '1700000000000000',
    'MI-Rts': '1700000000500000',
    'MI-Lsn': '1',
  })
  t.is(second!.headers['Nats-Msg-Id'], 'edge-a:2:mod-odd:c1:1000')
  t.is(h.metrics.counters.nats_published_records_total, 200)
})

natsTest('a redelivered batch is deduplicated by Nats-Msg-Id', async (t) => {
  const { h, stream } = await harness(t)
  await h.deliver(Array.from({ length: 50 }, (_, i) => ({ body: `x${i}` })))
  await h.redeliver()
  // A batch that overlaps the previous one (the runtime re-reads from the committed offset).
  await h.deliver(
    Array.from({ length: 20 }, (_, i) => ({
      lsn: 41 + i,
      seq: BigInt(41 + i),
      body: i < 10 ? `x${40 + i}` : `y${i}`,
    })),
  )
  const stored = await readStream(servers, stream)
  t.is(stored.length, 60)
  t.deepEqual(
    stored.map((m) => Number(m.headers['MI-Lsn'])),
    Array.from({ length: 60 }, (_, i) => i + 1),
  )
  t.is(h.metrics.counters.nats_duplicate_records_total, 60)
  t.is(h.metrics.counters.nats_published_records_total, 60)
})

natsTest(
  'subject mapping: dotted streams become tokens, a custom template, consumers filter on them',
  async (t) => {
    const { h, stream, prefix } = await harness(t, {
      subject: '{prefix}.{source}.{stream}.{module}.{core}',
      source: 'edge-b',
    })
    await h.deliver([
      { stream: 'env.temp', module: 'm1', core: 'c2', body: 'a' },
      { stream: 'env.hum', module: 'm.2', core: '', body: 'b' },
      { stream: 'power', module: 'm 3', core: 'x', body: 'c' },
    ])
    const stored = await readStream(servers, stream)
    t.deepEqual(
      stored.map((m) => m.subject),
      [`${prefix}.edge-b.env.temp.m1.c2`, `${prefix}.edge-b.env.hum.m_2._`, `${prefix}.edge-b.power.m_3.x`],
    )
    // The originals survive in the headers.
    t.is(stored[1]!.headers['MI-Module'], 'm.2')
    // A consumer can select by stream prefix across modules.
    const nc = await connect({ servers })
    t.teardown(() => nc.close())
    const consumer = await jetstream(nc).consumers.get(stream, { filter_subjects: `${prefix}.*.env.>` })
    const bodies: string[] = []
    for await (const m of await consumer.fetch({ max_messages: 2, expires: 2000 })) bodies.push(m.string())
    t.deepEqual(bodies, ['a', 'b'])
  },
)

natsTest('createStream: false publishes into an existing stream and fails when it is missing', async (t) => {
  const { h } = await harness(t, { createStream: false, unavailableWaitMs: 200, publishTimeoutMs: 1000 })
  const err = await t.throwsAsync(h.deliver([{ body: 'nowhere' }]))
  t.is((err as { code?: string }).code, 'MI_ERR_NATS_PUBLISH_FAILED')
})

natsTest('a deleted stream is created again before the retry', async (t) => {
  const { h, stream } = await harness(t, { unavailableWaitMs: 1000, publishTimeoutMs: 1000 })
  await h.deliver([{ body: 'one' }])
  await deleteStream(servers, stream)
  const err = await t.throwsAsync(h.deliver([{ body: 'two' }]))
  t.is((err as { code?: string }).code, 'MI_ERR_NATS_PUBLISH_FAILED')
  await h.redeliver()
  const stored = await readStream(servers, stream)
  t.deepEqual(
    stored.map((m) => m.body),
    ['two'],
  )
})
