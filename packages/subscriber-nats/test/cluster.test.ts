/**
 * Scale-out, proven against a real 3-node JetStream cluster (R3 streams) on loopback: edge hosts are
 * real `module-ingest serve` processes with their own data dirs and `source` names, producers speak
 * MIP/1 to them, and each edge forwards through the `nats` subscriber to all three seeds.
 * Every scenario ends with the same check: the stream holds every record the edges acknowledged
 * exactly once. Record counts are small so the file stays well under a minute on 2 cores.
 */

import { requireNatsServerBinary, startTcpProxy, type TcpProxy } from '@module-ingest/testing'
import { type NatsCluster, startNatsCluster } from '@module-ingest/testing/nats-cluster'
import anyTest, { type TestFn } from 'ava'
import {
  Producer,
  readAll,
  restartEdge,
  startEdge,
  stopEdge,
  type Verdict,
  verify,
  waitForCount,
} from './fixtures/fleet.ts'

const test = anyTest as TestFn<{ cluster: NatsCluster }>
const gated = requireNatsServerBinary().gate(test)
const N = process.env.MI_SOAK === '1' ? 20_000 : 2_000
// Generous: four server processes, three nats-servers and the producers share two cores.
const kTestTimeoutMs = 240_000
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test.before(async (t) => {
  if (requireNatsServerBinary().mode !== 'run') return
  t.context.cluster = await startNatsCluster({ size: 3 })
})
test.after.always(async (t) => {
  await t.context.cluster?.close()
})

function exactlyOnce(t: { deepEqual: (a: unknown, b: unknown, m: string) => void }, v: Verdict): void {
  t.deepEqual(v.missing.slice(0, 10), [], 'acknowledged at the edge, missing from the stream')
  t.deepEqual(v.duplicated.slice(0, 10), [], 'stored twice in the stream')
}

gated.serial(
  'steady state: two edge hosts, every acknowledged record in the R3 stream exactly once, in lsn order',
  async (t) => {
    t.timeout(kTestTimeoutMs)
    const { cluster } = t.context
    const stream = 'FLEET_STEADY'
    const edges = await Promise.all(
      ['edge-a', 'edge-b'].map((source) => startEdge({ source, stream, servers: cluster.urls })),
    )
    t.teardown(() => Promise.all(edges.map(stopEdge)))
    const producers = await Promise.all(edges.map((e, i) => Producer.start(e, `sensor-${i}`)))
    const started = performance.now()
    await Promise.all(producers.map((p) => p.send(N)))
    const stored = await waitForCount(cluster.urls, stream, 2 * N)
    const seconds = (performance.now() - started) / 1000
    t.log(
      `${stored} records from 2 edges in ${seconds.toFixed(1)} s (${Math.round(stored / seconds)}/s, loaded test box)`,
    )
    const v = verify(await readAll(cluster.urls, stream), producers)
    exactlyOnce(t, v)
    t.is(v.inversions, 0, 'per-host lsn order holds without failures')
    await Promise.all(producers.map((p) => p.close()))
  },
)

gated.serial(
  'the stream leader is SIGKILLed mid-flow: a new leader is elected and forwarding goes on',
  async (t) => {
    t.timeout(kTestTimeoutMs)
    const { cluster } = t.context
    const stream = 'FLEET_LEADER'
    const edge = await startEdge({ source: 'edge-l', stream, servers: cluster.urls })
    t.teardown(() => stopEdge(edge))
    const producer = await Producer.start(edge, 'sensor-l')
    await producer.send(N / 2)
    await waitForCount(cluster.urls, stream, 1)
    const leader = await cluster.leaderOf(stream)
    const sending = producer.send(N)
    await sleep(200)
    await leader.kill()
    const next = await cluster.leaderOf(stream)
    t.not(next.name, leader.name, 'another node leads the stream')
    await sending
    await leader.restart()
    await producer.send(N / 2)
    await waitForCount(cluster.urls, stream, 2 * N)
    const v = verify(await readAll(cluster.urls, stream), [producer])
    t.log(`leader ${leader.name} → ${next.name}; lsn inversions across the failover: ${v.inversions}`)
    exactlyOnce(t, v)
    await producer.close()
  },
)

gated.serial(
  'an edge cut off longer than the duplicate window drains its backlog with no duplicates',
  async (t) => {
    t.timeout(kTestTimeoutMs)
    const { cluster } = t.context
    const stream = 'FLEET_CUT'
    // The edge reaches the cluster only through relays standing for its uplink.
    const uplink: TcpProxy[] = await Promise.all(cluster.nodes.map((n) => startTcpProxy({ port: n.port })))
    t.teardown(() => Promise.all(uplink.map((p) => p.close())))
    const windowMs = 1000
    const edge = await startEdge({
      source: 'edge-c',
      stream,
      servers: uplink.map((p) => p.url),
      duplicateWindowMs: windowMs,
    })
    t.teardown(() => stopEdge(edge))
    const producer = await Producer.start(edge, 'sensor-c')
    await producer.send(N / 2)
    await waitForCount(cluster.urls, stream, N / 2)
    // Cut while records are flowing, so some publishes may be in flight when the link drops.
    const sending = producer.send(N / 2)
    await waitForCount(cluster.urls, stream, N / 2 + 1)
    await Promise.all(uplink.map((p) => p.cut()))
    await sending
    // The edge keeps acknowledging: its log is the buffer.
    await producer.send(N / 2)
    await sleep(3 * windowMs)
    await Promise.all(uplink.map((p) => p.restore()))
    await waitForCount(cluster.urls, stream, (3 * N) / 2)
    await sleep(500)
    const v = verify(await readAll(cluster.urls, stream), [producer])
    const doubts = edge.server.logs.filter((l) => l.event === 'NatsDoubtResolved')
    t.log(
      `after the cut: ${v.inversions} lsn inversions; in-doubt read-backs: ${JSON.stringify(doubts.map((d) => [d.inDoubt, d.alreadyStored]))}`,
    )
    t.true(
      edge.server.logs.some((l) => l.event === 'NatsConnectionLost'),
      'the edge saw its uplink go down',
    )
    exactlyOnce(t, v)
    t.is(producer.acked.size, (3 * N) / 2)
    await producer.close()
  },
)

gated.serial('an edge SIGKILLed mid-publish restarts with no loss and no duplicates', async (t) => {
  t.timeout(kTestTimeoutMs)
  const { cluster } = t.context
  const stream = 'FLEET_EDGE_KILL'
  const edge = await startEdge({ source: 'edge-k', stream, servers: cluster.urls })
  t.teardown(() => stopEdge(edge))
  const producer = await Producer.start(edge, 'sensor-k')
  await producer.send(N / 2)
  const sending = producer.send(N / 2)
  await sleep(100)
  edge.server.kill('SIGKILL')
  await edge.server.exited
  await restartEdge(edge)
  await sending
  await producer.send(N / 2)
  await waitForCount(cluster.urls, stream, (3 * N) / 2)
  await sleep(500)
  const v = verify(await readAll(cluster.urls, stream), [producer])
  exactlyOnce(t, v)
  await producer.close()
})
