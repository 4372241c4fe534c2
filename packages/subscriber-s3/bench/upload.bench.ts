/**
 * What it measures: how fast the `s3` subscriber moves records into an S3-compatible store on
 * loopback (fauxqs, in this process, objects stored as files): MB/s of record bodies and
 * records/s, per window of records as handle() gets it (group, encode, compress, PUT or multipart,
 * acknowledged), for NDJSON+zstd (the default), msgpack+zstd and NDJSON uncompressed; then the
 * catch-up time for a backlog (as after an outage: windows back to back, nothing else running).
 *
 * Not part of the test suite (test/bench.test.ts runs a cut-down version so it cannot rot).
 *
 * The store shares the process: cpu_s and mb_per_cpu_s count both sides (an upper bound on the
 * uploader's own cost).
 *
 * Run:  npx pnpm@10.34.9 --filter @module-ingest/subscriber-s3 bench
 *       MI_BENCH_BACKLOG_MIB=1024 node bench/upload.bench.ts     (the 1 GiB backlog)
 * Prerequisites: none (fauxqs is a devDependency). The store runs in the same process and on the
 * same cores as the uploader, so the numbers are a floor for a real remote store with bandwidth.
 */

import type { SubscriberRecord } from '@module-ingest/subscriber-sdk'
import { quietLogger as logger, noopMetrics as metrics } from '@module-ingest/testing'
import { parseS3Config, type S3SubscriberOptions } from '../src/config.ts'
import { S3Uploader } from '../src/uploader.ts'
import { startTestS3 } from '../test/_fauxqs.ts'

export interface BenchOptions {
  /** Windows per throughput row. */
  windows: number
  windowRecords: number
  bodyBytes: number
  /** Backlog for the catch-up row, MiB of record bodies (0: skip). */
  backlogMiB: number
}

export interface BenchRow {
  name: string
  records: number
  body_mb: number
  mb_per_s: number
  records_per_s: number
  stored_mb: number
  seconds: number
  /** Process CPU (user + system) during the uploads, uploader and store together. */
  cpu_s: number
  /** MB of bodies per CPU-second: on a loaded machine a steadier figure than mb_per_s. */
  mb_per_cpu_s: number
}

function makeWindow(firstLsn: number, n: number, bodyBytes: number): SubscriberRecord[] {
  const out: SubscriberRecord[] = []
  const now = Date.now() * 1000
  for (let i = 0; i < n; i++) {
    const lsn = firstLsn + i
    // JSON telemetry, padded to size: compresses like real sensor output (not like zeros).
    let text = `{"module":"m-${lsn % 50}","temp":${(20 + Math.sin(lsn) * 5).toFixed(3)},"seq":${lsn},"pad":"`
    while (text.length < bodyBytes - 2) text += (lsn * 7919 + text.length).toString(36)
    text = `${text.slice(0, bodyBytes - 2)}"}`
    out.push({
      lsn,
      stream: lsn % 4 === 0 ? 'telemetry.gps' : 'telemetry.env',
      module: `m-${lsn % 50}`,
      core: '',
      seq: BigInt(lsn),
      ts: now,
      rts: now,
      body: Buffer.from(text),
    })
  }
  return out
}

async function run(
  name: string,
  s3: Awaited<ReturnType<typeof startTestS3>>,
  bucket: string,
  extra: Partial<S3SubscriberOptions>,
  windows: number,
  windowRecords: number,
  bodyBytes: number,
): Promise<BenchRow> {
  s3.createBucket(bucket)
  const uploader = new S3Uploader(
    parseS3Config({ ...(s3.options(bucket) as S3SubscriberOptions), source: 'bench', ...extra }),
    { logger, metrics },
  )
  const signal = new AbortController().signal
  let stored = 0
  let records = 0
  let bodyTotal = 0
  // Only upload() is timed: making the records stands in for the runtime reading the log.
  let busyMs = 0
  let cpuUs = 0
  for (let w = 0; w < windows; w++) {
    const batch = makeWindow(1 + w * windowRecords, windowRecords, bodyBytes)
    for (const r of batch) bodyTotal += r.body.byteLength
    const started = performance.now()
    const cpu0 = process.cpuUsage()
    const result = await uploader.upload(batch, signal)
    const cpu = process.cpuUsage(cpu0)
    cpuUs += cpu.user + cpu.system
    busyMs += performance.now() - started
    stored += result.bytes
    records += result.records
  }
  const seconds = busyMs / 1000
  uploader.close()
  return {
    name,
    records,
    body_mb: round(bodyTotal / 1e6),
    mb_per_s: round(bodyTotal / 1e6 / seconds),
    records_per_s: Math.round(records / seconds),
    stored_mb: round(stored / 1e6),
    seconds: round(seconds),
    cpu_s: round(cpuUs / 1e6),
    mb_per_cpu_s: round(bodyTotal / 1e6 / (cpuUs / 1e6)),
  }
}

const round = (n: number) => Math.round(n * 100) / 100

export async function runBench(o: BenchOptions): Promise<BenchRow[]> {
  await using s3 = await startTestS3()
  const rows: BenchRow[] = []
  const { windows, windowRecords, bodyBytes } = o
  rows.push(
    await run('ndjson+zstd (default)', s3, 'bench-ndjson-zstd', {}, windows, windowRecords, bodyBytes),
  )
  rows.push(
    await run(
      'msgpack+zstd',
      s3,
      'bench-msgpack-zstd',
      { format: 'msgpack' },
      windows,
      windowRecords,
      bodyBytes,
    ),
  )
  rows.push(
    await run(
      'ndjson, uncompressed',
      s3,
      'bench-ndjson-none',
      { compression: 'none' },
      windows,
      windowRecords,
      bodyBytes,
    ),
  )
  if (o.backlogMiB > 0) {
    // Catch-up after an outage: the runtime hands over full windows back to back (here 32 MiB of
    // bodies each, the example config's batch.maxBytes).
    const perWindow = Math.max(1, Math.floor((32 * 1024 * 1024) / bodyBytes))
    const total = Math.ceil((o.backlogMiB * 1024 * 1024) / bodyBytes)
    const n = Math.max(1, Math.round(total / perWindow))
    rows.push(
      await run(
        `catch-up ${o.backlogMiB} MiB backlog, ndjson+zstd`,
        s3,
        'bench-catch-up',
        { maxObjectBytes: 16 << 20, ...(JSON.parse(process.env.MI_BENCH_S3_OPTIONS ?? '{}') as object) },
        n,
        perWindow,
        bodyBytes,
      ),
    )
  }
  return rows
}

if (import.meta.main) {
  const env = (k: string, d: number) => Number(process.env[k] ?? d)
  const rows = await runBench({
    windows: env('MI_BENCH_WINDOWS', 20),
    windowRecords: env('MI_BENCH_WINDOW_RECORDS', 20_000),
    bodyBytes: env('MI_BENCH_BODY_BYTES', 256),
    backlogMiB: env('MI_BENCH_BACKLOG_MIB', 256),
  })
  console.table(rows)
}
