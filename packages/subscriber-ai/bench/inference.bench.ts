/**
 * Inference throughput of the shipped model (anomaly-8), measured three ways:
 *   1. onnxruntime alone: rows/s for one run() per batch of 1, 64 and 512 rows;
 *   2. the whole subscriber (JSON parse → row → run → derived JSON record) through the test kit;
 *   3. the remote backend against the local v2 test server (HTTP/JSON and gRPC), in this process.
 *
 *   node packages/subscriber-ai/bench/inference.bench.ts     (MI_BENCH_SECONDS=2 per case)
 *
 * Numbers from a loaded 2-core machine are noisy: compare within one run, not across machines.
 */
import { createTestHarness } from '@module-ingest/subscriber-sdk/testkit'
import { seededRandom } from '@module-ingest/testing/random'
import { InferenceSession, Tensor } from 'onnxruntime-node'
import { SHIPPED_MODEL_PATH } from '../src/config.ts'
import ai from '../src/index.ts'
import { syntheticRow } from '../src/model-math.ts'
import { FIELDS, jsonBody } from '../test/helpers/fixtures.ts'
import { startV2Server } from '../test/helpers/v2-server.ts'

const seconds = Number(process.env.MI_BENCH_SECONDS ?? 2)
const rand = seededRandom(1)
const pool = Array.from({ length: 4096 }, () => syntheticRow(rand))

async function measure(name: string, rowsPerCall: number, call: () => Promise<unknown>) {
  for (let i = 0; i < 5; i++) await call() // warm up
  let rows = 0
  const t0 = performance.now()
  const until = t0 + seconds * 1000
  while (performance.now() < until) {
    await call()
    rows += rowsPerCall
  }
  const s = (performance.now() - t0) / 1000
  const perSec = Math.round(rows / s)
  console.log(`${name.padEnd(44)} ${String(perSec).padStart(10)} rows/s`)
  return perSec
}

const session = await InferenceSession.create(SHIPPED_MODEL_PATH)
const results: Record<string, number> = {}
for (const n of [1, 64, 512]) {
  const data = new Float32Array(n * 8)
  for (let i = 0; i < n; i++) data.set(pool[i % pool.length]!, i * 8)
  results[`onnx batch ${n}`] = await measure(`onnxruntime run(), batch ${n}`, n, () =>
    session.run({ input: new Tensor('float32', data, [n, 8]) }),
  )
}
console.log(
  `batching gain (512 vs 1): ${(results['onnx batch 512']! / results['onnx batch 1']!).toFixed(1)}×`,
)
await session.release()

// Bodies pre-encoded, as the runtime hands them over: the test kit then only copies them.
const encoder = new TextEncoder()
const batch = Array.from({ length: 500 }, (_, i) => ({
  body: encoder.encode(JSON.stringify(jsonBody(pool[i]!))),
}))
const h = createTestHarness(ai, { name: 'bench', config: { mapping: { fields: FIELDS } } })
await h.init()
await measure('subscriber (JSON → onnx → JSON), batch 500', 500, async () => {
  await h.deliver(batch)
  h.emitted.length = 0
})
const hq = createTestHarness(ai, {
  name: 'bench-quiet',
  config: { mapping: { fields: FIELDS }, emitWhen: { output: 'score', above: 1 } },
})
await hq.init()
await measure('subscriber, emitWhen (anomalies only)', 500, () => hq.deliver(batch))
await h.close()
await hq.close()

for (const protocol of ['http', 'grpc'] as const) {
  const srv = await startV2Server({ protocol })
  const hr = createTestHarness(ai, {
    name: `bench-${protocol}`,
    config: {
      backend: 'remote',
      remote: { url: srv.url, protocol, model: 'anomaly-8', maxBatchRows: 128, maxInFlight: 4 },
      mapping: { fields: FIELDS },
    },
  })
  await hr.init()
  await measure(`remote ${protocol}, batch 500 (4 × 128-row requests)`, 500, async () => {
    await hr.deliver(batch)
    hr.emitted.length = 0
  })
  await hr.close()
  await srv.stop()
}
