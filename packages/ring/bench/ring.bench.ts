/**
 * What it measures: records/s and GB/s (payload bytes) from a main-thread RingProducer to a
 * RingConsumer in a worker, at 16 B, 128 B and 1 KiB records, against a MessagePort baseline that
 * batches the same records into 64 KiB ArrayBuffers, transfers them, and gets them back for reuse.
 * Both consumers do the same per-record work (one view per record, touch the first byte). A last
 * pair runs unbatched: ring publish() after every record vs one postMessage per record.
 * Not part of the test suite (test/bench.test.ts runs a cut-down version so it cannot rot).
 *
 * Run:   cd packages/ring && node bench/ring.bench.ts            (or: pnpm bench)
 *        RING_BENCH_SCALE=0.01 node bench/ring.bench.ts           (quick smoke run)
 *        RING_BENCH_ROUNDS=3 node bench/ring.bench.ts             (best of 3, default 2)
 * Needs: Node 24 (type stripping), two free cores for meaningful numbers.
 */
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { createRing, RingProducer } from '../src/index.ts'

const SCALE = Number(process.env.RING_BENCH_SCALE ?? 1)
const ROUNDS = Number(process.env.RING_BENCH_ROUNDS ?? 2)
const RING_BYTES = 1 << 20
const PUBLISH_EVERY_BYTES = 16 * 1024
const PORT_BUFFER_BYTES = 64 * 1024
const PORT_BUFFERS_IN_FLIGHT = 16

const workerUrl = new URL('./_bench-worker.ts', import.meta.url)

interface Done {
  records: number
  bytes: number
  check: number
}

export interface BenchResult {
  name: string
  recordBytes: number
  records: number
  seconds: number
  recordsPerSec: number
  gbPerSec: number
}

function payload(size: number): Uint8Array {
  const b = new Uint8Array(size)
  for (let i = 0; i < size; i++) b[i] = i & 0xff
  return b
}

async function startWorker(data: object): Promise<Worker> {
  const w = new Worker(workerUrl, { workerData: data })
  await once(w, 'online')
  return w
}

async function benchRing(size: number, count: number, publishEveryRecords?: number): Promise<BenchResult> {
  const sab = createRing(RING_BYTES)
  const w = await startWorker({ mode: 'ring', sab })
  const done = once(w, 'message') as Promise<[Done]>
  const p = new RingProducer(sab)
  const rec = payload(size)
  const publishEvery = publishEveryRecords ?? Math.max(1, Math.floor(PUBLISH_EVERY_BYTES / (size + 8)))
  const t0 = performance.now()
  let i = 0
  let sinceEvery = 0
  while (i < count) {
    if (p.tryWrite(1, i, rec)) {
      i++
      if (++sinceEvery === publishEvery) {
        sinceEvery = 0
        p.publish()
      }
      continue
    }
    sinceEvery = 0
    await p.waitForSpace(size) // publishes first
  }
  p.close()
  const [res] = await done
  const seconds = (performance.now() - t0) / 1000
  await w.terminate()
  if (res.records !== count) throw new Error(`ring lost records: ${res.records} of ${count}`)
  return result(publishEveryRecords === 1 ? 'ring/record' : 'ring', size, count, seconds)
}

/** Unbatched: publish after every record, against one postMessage per record. */
async function benchRingPerRecord(size: number, count: number): Promise<BenchResult> {
  return benchRing(size, count, 1)
}

async function benchPortPerRecord(size: number, count: number): Promise<BenchResult> {
  const w = await startWorker({ mode: 'port-per-record' })
  const done = once(w, 'message') as Promise<[Done]>
  const rec = payload(size)
  const t0 = performance.now()
  for (let i = 0; i < count; i++) w.postMessage({ tag: i, data: rec })
  w.postMessage('end')
  const [res] = await done
  const seconds = (performance.now() - t0) / 1000
  await w.terminate()
  if (res.records !== count) throw new Error(`port lost records: ${res.records} of ${count}`)
  return result('port/record', size, count, seconds)
}

async function benchPort(size: number, count: number): Promise<BenchResult> {
  const w = await startWorker({ mode: 'port' })
  const rec = payload(size)
  const free: ArrayBuffer[] = []
  for (let i = 0; i < PORT_BUFFERS_IN_FLIGHT; i++) free.push(new ArrayBuffer(PORT_BUFFER_BYTES))
  let wake: (() => void) | undefined
  let done: ((d: Done) => void) | undefined
  w.on('message', (msg: { buf: ArrayBuffer } | Done) => {
    if ('buf' in msg) {
      free.push(msg.buf)
      wake?.()
    } else done?.(msg)
  })
  const finished = new Promise<Done>((resolve) => {
    done = resolve
  })
  const t0 = performance.now()
  let i = 0
  while (i < count) {
    while (free.length === 0) await new Promise<void>((resolve) => (wake = resolve))
    const buf = free.pop()!
    const u8 = new Uint8Array(buf)
    const u32 = new Uint32Array(buf)
    let off = 0
    const step = (8 + size + 7) & ~7
    while (i < count && off + step <= PORT_BUFFER_BYTES) {
      u32[off >>> 2] = (1 << 24) | size
      u32[(off >>> 2) + 1] = i
      u8.set(rec, off + 8)
      off += step
      i++
    }
    w.postMessage({ buf, used: off }, [buf])
  }
  w.postMessage('end')
  const res = await finished
  const seconds = (performance.now() - t0) / 1000
  await w.terminate()
  if (res.records !== count) throw new Error(`port lost records: ${res.records} of ${count}`)
  return result('postMessage', size, count, seconds)
}

function result(name: string, size: number, records: number, seconds: number): BenchResult {
  return {
    name,
    recordBytes: size,
    records,
    seconds,
    recordsPerSec: records / seconds,
    gbPerSec: (records * size) / seconds / 1e9,
  }
}

export async function runBench(scale = SCALE, rounds = ROUNDS): Promise<BenchResult[]> {
  // [record bytes, records at scale 1, ring transport, its postMessage baseline]
  type Fn = (size: number, count: number) => Promise<BenchResult>
  const plan: [number, number, Fn, Fn][] = [
    [16, 10_000_000, benchRing, benchPort],
    [128, 5_000_000, benchRing, benchPort],
    [1024, 1_000_000, benchRing, benchPort],
    [128, 300_000, benchRingPerRecord, benchPortPerRecord],
  ]
  const out: BenchResult[] = []
  for (const [size, full, ...fns] of plan) {
    const count = Math.max(1000, Math.round(full * scale))
    for (const fn of fns) {
      let best: BenchResult | undefined
      for (let r = 0; r < rounds; r++) {
        const res = await fn(size, count)
        if (best === undefined || res.seconds < best.seconds) best = res
      }
      out.push(best!)
    }
  }
  return out
}

if (import.meta.main) {
  const results = await runBench()
  console.log(`node ${process.version}, ring ${RING_BYTES} B, best of ${ROUNDS}`)
  console.log('record  transport      records/s     GB/s  ring/port')
  for (let k = 0; k < results.length; k += 2) {
    const ring = results[k]!
    const port = results[k + 1]!
    for (const r of [ring, port]) {
      console.log(
        `${String(r.recordBytes).padStart(5)} B  ${r.name.padEnd(12)} ${Math.round(r.recordsPerSec)
          .toLocaleString('en-US')
          .padStart(12)}  ${r.gbPerSec.toFixed(3).padStart(7)}` +
          (r === ring ? `  ${(ring.recordsPerSec / port.recordsPerSec).toFixed(1).padStart(8)}x` : ''),
      )
    }
  }
}
