/**
 * What: end-to-end fan-out throughput of the subscriber runtime — log read → filter → batch →
 * msgpack → move into a piscina worker → no-op handle() → offset commit — in records/s, for
 * batch sizes 100 and 1000 and concurrency 1 and 2, plus the same run as a dry run (no workers)
 * as the baseline of reading and batching alone. Not part of the test suite.
 *
 * Run: cd packages/subscriber-runtime && node bench/dispatch.bench.ts [records=200000] [bodyBytes=64]
 * Needs: nothing external; writes a temporary log under os.tmpdir().
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openLog } from '@module-ingest/log'
import { startSubscribers } from '../src/index.ts'

const records = Number(process.argv[2] ?? 200_000)
const bodyBytes = Number(process.argv[3] ?? 64)
const dir = mkdtempSync(join(tmpdir(), 'mi-subrt-bench-'))
const plugin = fileURLToPath(new URL('./_noop-plugin.ts', import.meta.url))
const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {}, child: () => silent }

const log = await openLog(dir)
const body = Buffer.alloc(bodyBytes, 7)
for (let i = 0; i < records; i += 50) {
  log.append({
    module: `m${(i / 50) % 16}`,
    core: '',
    seq: BigInt(i / 50 + 1),
    rts: Date.now() * 1000,
    records: Array.from({ length: 50 }, (_, k) => ({
      stream: k % 2 ? 'sensors.temp' : 'sensors.rpm',
      ts: i + k,
      body,
    })),
  })
}
await log.sync()
await log.close()

const rows: Record<string, unknown>[] = []
let run = 0
for (const [maxRecords, concurrency, dryRun] of [
  [1000, 1, true],
  [100, 1, false],
  [1000, 1, false],
  [1000, 2, false],
] as const) {
  const name = `b${run++}`
  const rt = await startSubscribers({
    dataDir: dir,
    logger: silent as never,
    emit: async () => {},
    dryRun,
    subscribers: [{ name, use: plugin, concurrency, batch: { maxRecords, maxBytes: 8 << 20, maxWaitMs: 5 } }],
  })
  const t0 = performance.now()
  while (rt.stats()[0]!.ackedLsn <= records) await new Promise((r) => setTimeout(r, 5))
  const ms = performance.now() - t0
  await rt.close()
  rows.push({
    maxRecords,
    concurrency,
    dryRun,
    records,
    records_per_s: Math.round((records / ms) * 1000),
    ms: Math.round(ms),
  })
}
console.table(rows)
rmSync(dir, { recursive: true, force: true })
