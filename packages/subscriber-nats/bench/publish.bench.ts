/**
 * What it measures: records/s that the `nats` subscriber moves into JetStream, with every PubAck
 * awaited per batch (what `handle` does), at 128-byte bodies in batches of 1000 records; and the
 * latency of one batch (p50/p99, µs). Baselines on the same connection settings:
 *   - `js.publish` pipelined with a bare Nats-Msg-Id (no MI-* headers, no subject mapping),
 *   - core `nc.publish` + `flush()` (no JetStream acks at all: the ceiling of the socket path).
 *
 * Not part of the test suite (test/bench.test.ts runs a cut-down version so it cannot rot).
 *
 * Run:  cd packages/subscriber-nats && node bench/publish.bench.ts
 *       MI_BENCH_BATCHES=200 node bench/publish.bench.ts       (more batches)
 *       MI_BENCH_NATS_URL=nats://127.0.0.1:4222 node bench/publish.bench.ts   (an existing server)
 *       MI_BENCH_CLUSTER=1 node bench/publish.bench.ts   (also a 3-node cluster of our own, R3 stream)
 * Prerequisites: a nats-server binary (an own child with a temp store dir is started), or
 * MI_BENCH_NATS_URL pointing at a server with JetStream. Numbers depend on the disk and cores.
 */

import type { SubscriberRecord } from '@module-ingest/subscriber-sdk'
import { noopMetrics, quietLogger, startNatsServer } from '@module-ingest/testing'
import { startNatsCluster } from '@module-ingest/testing/nats-cluster'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { parseNatsConfig } from '../src/config.ts'
import { NatsForwarder } from '../src/forwarder.ts'

export interface BenchOptions {
  batches: number
  batchSize: number
  bodyBytes: number
  /** Use this server instead of starting one. */
  url?: string
  /** Start a 3-node cluster of our own (all on this machine) and use an R3 stream. */
  cluster?: boolean
}

export interface BenchRow {
  name: string
  records: number
  records_per_s: number
  batch_p50_us: number
  batch_p99_us: number
}

function makeBatch(first: number, size: number, body: Uint8Array): SubscriberRecord[] {
  const nowUs = Date.now() * 1000
  return Array.from({ length: size }, (_, i) => ({
    lsn: first + i,
    stream: 'bench',
    module: `m${i % 16}`,
    core: '',
    seq: BigInt(first + i),
    ts: nowUs,
    rts: nowUs,
    body,
  }))
}

function summarise(name: string, records: number, totalMs: number, batchUs: number[]): BenchRow {
  const sorted = batchUs.toSorted((a, b) => a - b)
  const at = (q: number) =>
    Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0)
  return {
    name,
    records,
    records_per_s: Math.round(records / (totalMs / 1000)),
    batch_p50_us: at(0.5),
    batch_p99_us: at(0.99),
  }
}

async function timeBatches(batches: number, run: (b: number) => Promise<void>): Promise<[number, number[]]> {
  await run(-1) // warm-up: connection, stream lookup, JIT
  const batchUs: number[] = []
  const t0 = performance.now()
  for (let b = 0; b < batches; b++) {
    const s = performance.now()
    await run(b)
    batchUs.push((performance.now() - s) * 1000)
  }
  return [performance.now() - t0, batchUs]
}

export async function runBench(options: BenchOptions): Promise<BenchRow[]> {
  const { batches, batchSize, bodyBytes } = options
  const cluster = options.cluster ? await startNatsCluster({ size: 3 }) : null
  const server = options.url || cluster ? null : await startNatsServer({ jetstream: true })
  const url = options.url ?? cluster?.urls ?? server!.url
  const body = new Uint8Array(bodyBytes).fill(0x61)
  const rows: BenchRow[] = []
  const stream = `MI_BENCH_${process.pid}`
  try {
    // 1. The subscriber's engine, exactly as handle() drives it.
    const config = parseNatsConfig({
      servers: url,
      stream,
      subjectPrefix: `mibench${process.pid}`,
      source: 'bench',
      replicas: cluster ? 3 : 1,
    })
    const forwarder = new NatsForwarder(config, { logger: quietLogger, metrics: noopMetrics })
    forwarder.start()
    let lsn = 1
    const [ms, us] = await timeBatches(batches, async () => {
      await forwarder.publish(makeBatch(lsn, batchSize, body))
      lsn += batchSize
    })
    rows.push(summarise('subscriber-nats publish()', batches * batchSize, ms, us))
    await forwarder.close()

    const nc = await connect({ servers: url, noAsyncTraces: true })
    const js = jetstream(nc)
    // 2. Baseline: pipelined js.publish, msg id only, one subject.
    let n = 0
    const [ms2, us2] = await timeBatches(batches, async () => {
      const acks: Promise<unknown>[] = []
      for (let i = 0; i < batchSize; i++) {
        acks.push(js.publish(`mibench${process.pid}.raw`, body, { msgID: `raw:${n++}` }))
      }
      await Promise.all(acks)
    })
    rows.push(summarise('baseline js.publish (msgID only)', batches * batchSize, ms2, us2))
    // 3. Ceiling: core publish, no acks.
    const [ms3, us3] = await timeBatches(batches, async () => {
      for (let i = 0; i < batchSize; i++) nc.publish(`mibench${process.pid}.core`, body)
      await nc.flush()
    })
    rows.push(summarise('ceiling nc.publish + flush (no acks)', batches * batchSize, ms3, us3))
    const jsm = await jetstreamManager(nc)
    await jsm.streams.delete(stream).catch(() => {})
    await nc.close()
  } finally {
    await server?.close()
    await cluster?.close()
  }
  return rows
}

if (import.meta.main) {
  const batches = Number(process.env.MI_BENCH_BATCHES ?? 100)
  const rows = await runBench({
    batches,
    batchSize: 1000,
    bodyBytes: 128,
    url: process.env.MI_BENCH_NATS_URL,
  })
  console.log(`JetStream publish, ${batches} batches × 1000 records × 128 B (file storage, 1 replica)`)
  console.table(rows)
  if (process.env.MI_BENCH_CLUSTER === '1') {
    const r3 = await runBench({ batches, batchSize: 1000, bodyBytes: 128, cluster: true })
    console.log('The same into a 3-node cluster on this machine (R3 stream; the nodes share its cores)')
    console.table(r3)
  }
}
