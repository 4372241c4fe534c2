/**
 * The `ai` subscriber inside a real server with ingest running: N 8-feature JSON records are sent
 * over MIP/1 (several connections, pipelined batches) while the subscriber scores them with the
 * shipped model; reports the ingest rate, the subscriber's peak lag while ingest runs, and the
 * rate at which it had scored everything (first send → lag 0).
 *
 *   node packages/subscriber-ai/bench/e2e.bench.ts
 *   (MI_BENCH_RECORDS=200000, MI_BENCH_CONNECTIONS=4, MI_BENCH_EMIT_WHEN=1 for anomalies only)
 *
 * Server, load generator and subscriber share the machine's cores; on a loaded machine the
 * numbers are noisy and low: compare runs on the same machine only.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect } from '@module-ingest/client'
import { adminRequest } from '@module-ingest/telemetry'
import { startServerProcess } from '@module-ingest/testing'
import { seededRandom } from '@module-ingest/testing/random'
import { syntheticRow } from '../src/model-math.ts'
import { FIELDS, jsonBody } from '../test/helpers/fixtures.ts'

const total = Number(process.env.MI_BENCH_RECORDS ?? 200_000)
const connections = Number(process.env.MI_BENCH_CONNECTIONS ?? 4)
const perBatch = 100

interface Stats {
  subscribers?: {
    name: string
    lagRecords: number
    delivered: number
    emitted: number
    deadLettered: number
  }[]
}

const dir = await mkdtemp(join(tmpdir(), 'mi-ai-bench-'))
const dataDir = join(dir, 'data')
const subscribers = [
  {
    name: 'scores',
    use: 'ai',
    streams: ['telemetry.*'],
    batch: { maxRecords: 512, maxWaitMs: 50 },
    // MI_BENCH_EMIT_WHEN=1: emit anomalies only (none in this signal) instead of a record per input.
    options: {
      mapping: { fields: FIELDS },
      ...(process.env.MI_BENCH_EMIT_WHEN === '1' ? { emitWhen: { output: 'score', above: 0.5 } } : {}),
    },
  },
]
const server = await startServerProcess({ dataDir, set: { subscribers: JSON.stringify(subscribers) } })
try {
  const token = await server.devToken()
  const stats = async () =>
    (await adminRequest(join(dataDir, 'admin.sock'), 'stats', {}, { timeoutMs: 10_000 })) as Stats
  const scores = async () => (await stats()).subscribers?.find((s) => s.name === 'scores')
  const rand = seededRandom(7)
  const bodies = Array.from({ length: 1024 }, () => JSON.stringify(jsonBody(syntheticRow(rand))))
  const clients = await Promise.all(
    Array.from({ length: connections }, (_, i) =>
      connect({ port: server.port, module: `pump-${i}`, auth: { token } }),
    ),
  )
  // Warm up: the subscriber's worker loads onnxruntime and the model on its first batch.
  await clients[0]!.sendBatch(bodies.slice(0, perBatch).map((body) => ({ stream: 'telemetry.pump', body })))
  for (let i = 0; i < 1200 && ((await scores())?.delivered ?? 0) < perBatch; i++) await sleep(100)
  let peakLag = 0
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      peakLag = Math.max(peakLag, (await scores().catch(() => undefined))?.lagRecords ?? 0)
      await sleep(250)
    }
  })()
  const t0 = performance.now()
  await Promise.all(
    clients.map(async (c, ci) => {
      const mine = Math.floor(total / connections)
      const pending: Promise<bigint>[] = []
      for (let sent = 0; sent < mine; sent += perBatch) {
        const records = Array.from({ length: Math.min(perBatch, mine - sent) }, (_, k) => ({
          stream: 'telemetry.pump',
          body: bodies[(ci * 7919 + sent + k) % bodies.length]!,
        }))
        pending.push(c.sendBatch(records))
        if (pending.length >= 64) await pending.shift()
      }
      await Promise.all(pending)
    }),
  )
  const ingestS = (performance.now() - t0) / 1000
  sampling = false
  await sampler
  const atStop = (await scores())?.lagRecords ?? 0
  let s = await scores()
  while ((s?.lagRecords ?? 1) > 0 && performance.now() - t0 < 600_000) {
    await sleep(100)
    s = await scores()
  }
  const doneS = (performance.now() - t0) / 1000
  const sent = Math.floor(total / connections) * connections
  console.log(
    JSON.stringify(
      {
        records: sent,
        connections,
        ingest_records_per_s: Math.round(sent / ingestS),
        lag_peak_records: Math.max(peakLag, atStop),
        lag_at_ingest_end_records: atStop,
        scored_records_per_s: Math.round(sent / doneS),
        catch_up_after_ingest_s: +(doneS - ingestS).toFixed(2),
        emitted: s?.emitted,
        dead_lettered: s?.deadLettered,
      },
      null,
      1,
    ),
  )
  await Promise.all(clients.map((c) => c.close()))
} finally {
  server.kill('SIGTERM')
  await server.exited
  await rm(dir, { recursive: true, force: true })
}
