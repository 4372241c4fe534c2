/**
 * Append throughput and group-commit latency of @module-ingest/log under flush 'always'.
 * Not part of the test suite.
 *
 *   cd packages/log && node bench/append.bench.ts            # 3 s per case
 *   MI_BENCH_SECONDS=10 node bench/append.bench.ts           # longer runs
 *   MI_BENCH_DIR=/path/on/the/real/disk node bench/append.bench.ts
 *
 * What it does: 100 logical producers each keep up to 16 DATA appends in flight and wait for the
 * durability of each (the way the engine acks), at 128 B and 1 KiB bodies. Reports records/s,
 * MB/s (body bytes), ack latency (append → onDurable) and fdatasync time as p50/p99/p99_9 in µs
 * (hdr-histogram-js), bytes on disk per record, and a baseline of fs.writeSync + fdatasync per
 * record on the same disk. Prerequisites: none (writes to os.tmpdir() unless MI_BENCH_DIR is set).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as hdr from 'hdr-histogram-js'
import { openLog } from '../src/index.ts'

const seconds = Number(process.env.MI_BENCH_SECONDS ?? 3)
const root = process.env.MI_BENCH_DIR ?? os.tmpdir()
const producers = 100
const window = 16

const histogram = () =>
  hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  })

function summary(h: hdr.Histogram) {
  return {
    p50_us: h.getValueAtPercentile(50),
    p99_us: h.getValueAtPercentile(99),
    p99_9_us: h.getValueAtPercentile(99.9),
    max_us: h.maxValue,
  }
}

async function runLog(bodyBytes: number, compression: 'none' | 'zstd' = 'none') {
  const dir = fs.mkdtempSync(path.join(root, 'mi-log-bench-'))
  const ack = histogram()
  const sync = histogram()
  const group = histogram()
  let groups = 0
  const log = await openLog(dir, {
    compression,
    onCommit: (i) => {
      sync.recordValue(Math.max(1, Math.round(i.syncUs)))
      group.recordValue(i.records)
      groups++
    },
  })
  // Acks in lsn order: one queue, popped on every commit.
  const waiting: { lsn: number; t0: number; resolve: () => void }[] = []
  let head = 0
  log.onDurable((durable) => {
    const now = performance.now()
    while (head < waiting.length && waiting[head]!.lsn <= durable) {
      const w = waiting[head++]!
      ack.recordValue(Math.max(1, Math.round((now - w.t0) * 1000)))
      w.resolve()
    }
    if (head > 4096) {
      waiting.splice(0, head)
      head = 0
    }
  })
  const body = new Uint8Array(bodyBytes).fill(7)
  let records = 0
  let stop = false
  const producer = async (id: number) => {
    const module = `module-${id}`
    let seq = 0n
    const inflight = new Set<Promise<void>>()
    while (!stop) {
      while (inflight.size < window && !stop) {
        const rts = Date.now() * 1000
        const { lastLsn } = log.append({
          module,
          core: '',
          seq: ++seq,
          rts,
          records: [{ stream: 'telemetry', ts: rts, body }],
        })
        const p = new Promise<void>((resolve) =>
          waiting.push({ lsn: lastLsn, t0: performance.now(), resolve }),
        )
        inflight.add(p)
        void p.then(() => {
          inflight.delete(p)
          records++
        })
      }
      await Promise.race(inflight)
    }
    await Promise.all(inflight)
  }
  const t0 = performance.now()
  const all = Array.from({ length: producers }, (_, i) => producer(i))
  await new Promise((r) => setTimeout(r, seconds * 1000))
  stop = true
  await Promise.all(all)
  const elapsed = (performance.now() - t0) / 1000
  const st = log.stats()
  await log.close()
  fs.rmSync(dir, { recursive: true, force: true })
  return {
    case: `log always, ${bodyBytes} B body, ${producers} producers × ${window} in flight${compression === 'zstd' ? ', zstd' : ''}`,
    records_per_s: Math.round(records / elapsed),
    mb_per_s: +((records * bodyBytes) / elapsed / 1e6).toFixed(1),
    ack: summary(ack),
    fdatasync: summary(sync),
    records_per_group_p50: group.getValueAtPercentile(50),
    groups_per_s: Math.round(groups / elapsed),
    disk_bytes_per_record: +((st.bytesOnDisk - 16) / st.committedRecords).toFixed(1),
    overhead_bytes_per_record: +((st.bytesOnDisk - 16) / st.committedRecords - bodyBytes).toFixed(1),
  }
}

function runBaseline(bodyBytes: number) {
  const dir = fs.mkdtempSync(path.join(root, 'mi-log-bench-'))
  const fd = fs.openSync(path.join(dir, 'baseline'), 'w')
  const body = Buffer.alloc(bodyBytes, 7)
  const lat = histogram()
  let n = 0
  let pos = 0
  const t0 = performance.now()
  const until = t0 + Math.min(seconds, 2) * 1000
  while (performance.now() < until) {
    const a = performance.now()
    fs.writeSync(fd, body, 0, bodyBytes, pos)
    fs.fdatasyncSync(fd)
    pos += bodyBytes
    lat.recordValue(Math.max(1, Math.round((performance.now() - a) * 1000)))
    n++
  }
  const elapsed = (performance.now() - t0) / 1000
  fs.closeSync(fd)
  fs.rmSync(dir, { recursive: true, force: true })
  return {
    case: `baseline fs.writeSync + fdatasync per record, ${bodyBytes} B`,
    records_per_s: Math.round(n / elapsed),
    mb_per_s: +((n * bodyBytes) / elapsed / 1e6).toFixed(1),
    ack: summary(lat),
  }
}

const results = []
for (const size of [128, 1024]) {
  results.push(runBaseline(size))
  results.push(await runLog(size))
}
results.push(await runLog(1024, 'zstd'))
for (const r of results) console.log(JSON.stringify(r))
