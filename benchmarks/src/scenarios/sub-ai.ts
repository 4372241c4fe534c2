/**
 * The `ai` subscriber (packages/subscriber-ai) scoring records with ingest running: 8-feature JSON
 * records (the shipped anomaly-8 model's fields) offered open loop at 100,000 records/s (20,000
 * with --quick) as BATCH frames over 8 connections, to module-ingest (flush `always`):
 *
 * - `ours`: ingest alone, the baseline of this run;
 * - `ours+ai-b1`, `-b64`, `-b512`: the `onnx` backend (onnxruntime-node in the subscriber's
 *   worker, one run() per batch) with `batch.maxRecords` 1, 64 and 512, one derived record per
 *   input (the default);
 * - `ours+ai-b512-emitWhen`: the same with `emitWhen: score > 520` (these bodies score 179..526,
 *   so ~2% are emitted): what the derived records' log appends cost;
 * - `ours+noop-b512`: a subscriber doing nothing (subscriber-ai/bench/noop.plugin.ts) in the
 *   same place: the runtime's delivery alone, the ceiling for any plugin here;
 * - `ours+ai-http`, `ours+ai-grpc`: the `remote` backend (batches of 512, 256-row requests, 4 in
 *   flight) against subscriber-ai's Open Inference Protocol v2 test server in its own process.
 *
 * Each subscriber row reports `inferences_per_s` (records scored inside the measurement window),
 * the lag (peak, when the load stopped, catch-up time), and its ingest ack p99 against the `ours`
 * row (`ack_p99_vs_ingest_only`). Server CPU s includes the subscriber's threads; the v2 server's
 * own CPU is not in it.
 *
 * Not part of the test suite (benchmarks/test/subscribers.test.ts only checks that it starts).
 * Command: node benchmarks/src/run.ts ai
 * Prerequisites: none beyond the workspace install (onnxruntime-node's CPU binary ships in npm).
 */
import { readFileSync } from 'node:fs'
import type { BodySpec } from '../load/bodies.ts'
import { measureTarget, type TargetRun } from '../measure.ts'
import type { Row, RunContext, Scenario } from '../scenario.ts'
import type { SubscriberEntry } from '../targets/ours.ts'
import { type StoreProcess, startV2Server } from '../targets/stores.ts'
import {
  againstIngestOnly,
  catchUpMs,
  ingestLoad,
  oursOf,
  skippedRow,
  warmSubscriber,
  watchSubscriber,
} from './sub-common.ts'

const kModelMeta = new URL('../../../packages/subscriber-ai/models/anomaly-8.json', import.meta.url)
const kNoopPlugin = new URL('../../../packages/subscriber-ai/bench/noop.plugin.ts', import.meta.url)

/** The shipped model's 8 input fields, in model order. */
export function aiFields(): string[] {
  return (JSON.parse(readFileSync(kModelMeta, 'utf8')) as { fields: string[] }).fields
}

/** The scenario's `ai` entry: stream `bench`, batches of `maxRecords`, more options (a backend). */
export function aiEntry(name: string, maxRecords: number, options: Record<string, unknown>): SubscriberEntry {
  return {
    name,
    use: 'ai',
    streams: ['bench'],
    batch: { maxRecords, maxBytes: 64 << 20, maxWaitMs: 20 },
    options: { mapping: { fields: aiFields() }, ...options },
  }
}

/** A subscriber doing nothing in the `ai` entry's place: the runtime's delivery alone. */
export function noopEntry(name: string, maxRecords: number): SubscriberEntry {
  return { ...aiEntry(name, maxRecords, {}), use: kNoopPlugin.href }
}

/** The remote backend's options against a v2 server on loopback. */
export function remoteOptions(protocol: 'http' | 'grpc', port: number): Record<string, unknown> {
  const url = protocol === 'http' ? `http://127.0.0.1:${port}` : `127.0.0.1:${port}`
  return {
    backend: 'remote',
    remote: { url, protocol, model: 'anomaly-8', maxBatchRows: 256, maxInFlight: 4 },
  }
}

export const aiScenario: Scenario = {
  name: 'ai',
  group: 'subscriber',
  description: 'ai subscriber (shipped ONNX model, batch 1/64/512; remote v2 HTTP/gRPC) with ingest running',
  quick: false,
  full: true,
  async run(ctx: RunContext): Promise<Row[]> {
    if (!ctx.targets.has('ours')) return []
    const body: BodySpec = { kind: 'json', fields: aiFields() }
    const load = ingestLoad(ctx.quick ? 20_000 : 100_000, 0, body)
    const rows: Row[] = []
    const run = async (label: string, sub: SubscriberEntry | null, extra: Partial<TargetRun> = {}) => {
      ctx.log(`  ${label} …`)
      const row = await measureTarget(ctx, this.name, 'ours', {
        ...load,
        ...extra,
        ...(sub
          ? {
              subscribers: [sub],
              prepare: (ut) => warmSubscriber(oursOf(ut), sub.name, 'bench', body, 0),
              during: (ut) =>
                watchSubscriber(oursOf(ut), sub.name, {
                  catchUpMs: catchUpMs(ctx),
                  rateKey: 'inferences_per_s',
                }),
            }
          : {}),
      })
      row.target = label
      againstIngestOnly(row, rows[0])
      rows.push(row)
    }
    await run('ours', null)
    for (const b of [1, 64, 512]) await run(`ours+ai-b${b}`, aiEntry('ai', b, {}))
    await run('ours+ai-b512-emitWhen', aiEntry('ai', 512, { emitWhen: { output: 'score', above: 520 } }))
    await run('ours+noop-b512', noopEntry('noop', 512))
    for (const protocol of ['http', 'grpc'] as const) {
      let v2: StoreProcess | null = null
      try {
        v2 = await startV2Server(protocol)
      } catch (err) {
        rows.push(skippedRow(this.name, `ours+ai-${protocol}`, err))
        continue
      }
      try {
        await run(`ours+ai-${protocol}`, aiEntry('ai', 512, remoteOptions(protocol, v2.port)))
      } finally {
        await v2?.kill()
      }
    }
    return rows
  },
}
