/**
 * What: records/s the disk subscriber's handle() absorbs, 128-byte bodies, batches of 4096
 * records over 4 streams and 64 modules, for compression zstd|none × fsync batch|rotate; plus a
 * baseline that writes the bare bodies with fs.writeSync (+ fdatasync per batch).
 * Goal context: the archive must keep pace with ≥ 500,000 msgs/s of ingest.
 *
 * Not part of the test suite (test/bench.test.ts runs a cut-down copy so it cannot rot).
 * Run: cd packages/subscriber-disk && node bench/archive.bench.ts
 * Env: MI_BENCH_RECORDS (default 2,000,000 per case), MI_BENCH_DIR (default os.tmpdir();
 * point it at the disk the archive will live on — tmpfs makes fsync free).
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SubscriberContext, SubscriberRecord } from '@module-ingest/subscriber-sdk'
import { createEmitBuffer } from '@module-ingest/subscriber-sdk'
import { noopMetrics, quietLogger } from '@module-ingest/testing'
import type { DiskConfig } from '../src/index.ts'
import disk, { diskConfigSchema } from '../src/index.ts'

const TOTAL = Number(process.env.MI_BENCH_RECORDS ?? 2_000_000)
const BATCH = 4096
const BODY_BYTES = 128
const root = mkdtempSync(join(process.env.MI_BENCH_DIR ?? tmpdir(), 'mi-disk-bench-'))

function makeBatches(): SubscriberRecord[][] {
  const enc = new TextEncoder()
  const batches: SubscriberRecord[][] = []
  const t0 = Date.now() * 1000
  let lsn = 1
  // A pool of distinct 128-byte telemetry-like bodies, reused: about as compressible as real JSON.
  const bodies = Array.from({ length: 997 }, (_, i) => {
    const s = JSON.stringify({
      value: Math.round(Math.sin(i) * 1e6) / 1e3,
      unit: 'C',
      q: i % 7,
      id: `sensor-${i % 64}`,
    })
    return enc.encode(s.padEnd(BODY_BYTES, ' ').slice(0, BODY_BYTES))
  })
  for (let b = 0; b < Math.ceil(TOTAL / BATCH); b++) {
    const batch: SubscriberRecord[] = []
    for (let i = 0; i < BATCH && lsn <= TOTAL; i++, lsn++) {
      batch.push({
        lsn,
        stream: `telemetry.s${lsn % 4}`,
        module: `module-${lsn % 64}`,
        core: '',
        seq: BigInt(lsn),
        ts: t0 + lsn,
        rts: t0 + lsn,
        body: bodies[lsn % bodies.length]!,
      })
    }
    batches.push(batch)
  }
  return batches
}

async function dirBytes(dir: string): Promise<number> {
  let n = 0
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += statSync(join(e.parentPath, e.name)).size
  }
  return n
}

function ctxFor(name: string, config: DiskConfig): SubscriberContext<DiskConfig> {
  return {
    name,
    config,
    logger: quietLogger,
    metrics: noopMetrics,
    signal: new AbortController().signal,
    emit: createEmitBuffer(name).emit,
    attempt: 1,
  }
}

interface Row {
  case: string
  records_per_s: number
  body_MB_per_s: number
  bytes_per_record_on_disk: number
}

async function runCase(
  batches: SubscriberRecord[][],
  compression: 'zstd' | 'none',
  fsync: 'batch' | 'rotate',
): Promise<Row> {
  const dir = join(root, `${compression}-${fsync}`)
  const config = diskConfigSchema.parse({ dir, compression, fsync })
  const ctx = ctxFor(`bench-${compression}-${fsync}`, config)
  await disk.init!(ctx)
  const start = process.hrtime.bigint()
  for (const batch of batches) await disk.handle(batch, ctx)
  await disk.close!(ctx)
  const s = Number(process.hrtime.bigint() - start) / 1e9
  return {
    case: `disk zstd=${compression === 'zstd'} fsync=${fsync}`,
    records_per_s: Math.round(TOTAL / s),
    body_MB_per_s: Math.round((TOTAL * BODY_BYTES) / s / 1e6),
    bytes_per_record_on_disk: Math.round((await dirBytes(dir)) / TOTAL),
  }
}

function baseline(batches: SubscriberRecord[][]): Row {
  const fd = openSync(join(root, 'baseline.bin'), 'w')
  const start = process.hrtime.bigint()
  for (const batch of batches) {
    for (const r of batch) writeSync(fd, r.body)
    fdatasyncSync(fd)
  }
  closeSync(fd)
  const s = Number(process.hrtime.bigint() - start) / 1e9
  return {
    case: 'baseline writeSync per body + fdatasync per batch',
    records_per_s: Math.round(TOTAL / s),
    body_MB_per_s: Math.round((TOTAL * BODY_BYTES) / s / 1e6),
    bytes_per_record_on_disk: BODY_BYTES,
  }
}

try {
  const batches = makeBatches()
  const rows: Row[] = [baseline(batches)]
  for (const compression of ['zstd', 'none'] as const) {
    for (const fsync of ['batch', 'rotate'] as const) rows.push(await runCase(batches, compression, fsync))
  }
  console.log(`records=${TOTAL} batch=${BATCH} body=${BODY_BYTES}B dir=${root} node=${process.version}`)
  console.table(rows)
  console.log(JSON.stringify(rows))
} finally {
  rmSync(root, { recursive: true, force: true })
}
