/**
 * CPU per record on each side of "parse once" (index.ts): the writer thread's appendEncoded, and
 * the parser's decode + AppendEncoder. Not part of the test suite.
 *
 *   cd packages/log && node bench/writer-cpu.bench.ts              # DATA frames (1 record)
 *   MI_BENCH_BATCH=256 node bench/writer-cpu.bench.ts              # 256-record BATCHes
 *   MI_BENCH_BASE=/path/to/old/checkout node bench/writer-cpu.bench.ts
 *   MI_BENCH_MODULES=1 node bench/writer-cpu.bench.ts              # one session (default 100 in turn)
 *
 * With MI_BENCH_BASE (a checkout from before parse once, with node_modules), it also runs what
 * that checkout's writer did per frame: decode the record(s) again, then log.append. Flush 'none'
 * (no fdatasync) and a commitSync every 256 appends, so the numbers are CPU, not disk; reported as
 * process.cpuUsage µs per record, which holds up on a loaded machine better than wall time.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const here = path.resolve(import.meta.dirname, '../../..')
const batch = Number(process.env.MI_BENCH_BATCH ?? 1)
const total = Number(process.env.MI_BENCH_RECORDS ?? 400_000)
const appends = Math.max(100, Math.floor(total / batch))
/** Sessions whose frames interleave in the writer's ring (one module each). */
const modules = Number(process.env.MI_BENCH_MODULES ?? 100)
const rts = 1_700_000_000_000_000
const body = new Uint8Array(128).fill(7)
const records = Array.from({ length: batch }, (_, i) => ({ stream: `sensor.s${i % 4}`, ts: rts - i, body }))

interface Log {
  appendEncoded(b: Uint8Array): unknown
  append(e: unknown): unknown
  commitSync(): unknown
  close(): Promise<void>
}
async function cpuPerRecord(root: string, label: string, make: () => Promise<(log: Log, i: number) => void>) {
  const { openLog } = await import(path.join(root, 'packages/log/src/index.ts'))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mi-writer-cpu-'))
  const log = (await openLog(dir, { flush: 'none' })) as Log
  const step = await make()
  const warm = Math.floor(appends / 4)
  for (let i = 0; i < warm; i++) step(log, i)
  log.commitSync()
  const c0 = process.cpuUsage()
  for (let i = warm; i < appends; i++) {
    step(log, i)
    if (i % 256 === 0) log.commitSync()
  }
  log.commitSync()
  const c = process.cpuUsage(c0)
  const perRecord = (c.user + c.system) / ((appends - warm) * batch)
  console.log(`${label.padEnd(48)} ${perRecord.toFixed(3)} CPU-µs/record`)
  await log.close()
  fs.rmSync(dir, { recursive: true, force: true })
}

async function protocolOf(root: string) {
  const p = await import(path.join(root, 'packages/protocol/src/index.ts'))
  const payload = batch === 1 ? p.encodeRecord(records[0]) : p.encodeBatch(records).payload
  return () => (batch === 1 ? [p.decodeRecord(payload)] : p.decodeBatch(payload, 0, 1 << 30))
}

console.log(
  `${batch === 1 ? 'DATA frames' : `BATCHes of ${batch}`}, 128 B bodies, ${appends} appends from ${modules} modules in turn`,
)
const { AppendEncoder } = await import('../src/entry.ts')
const enc = new AppendEncoder()
const moduleNames = Array.from({ length: modules }, (_, i) => Buffer.from(`module-${i}`))
const module = moduleNames[0]!
const core = Buffer.alloc(0)
const encoded = Array.from({ length: 1000 }, (_, i) => {
  enc.begin(rts)
  for (const r of records) enc.add(r.stream, r.ts, r.body)
  return Buffer.concat(enc.finish(moduleNames[i % modules]!, core, BigInt(i + 1)))
})
await cpuPerRecord(here, 'writer: appendEncoded (this checkout)', async () => (log, i) => {
  log.appendEncoded(encoded[i % 1000]!)
})
{
  const decode = await protocolOf(here)
  const c0 = process.cpuUsage()
  for (let i = 0; i < appends; i++) {
    const rs = decode()
    enc.begin(rts)
    for (const r of rs) enc.add(r.stream, r.ts === 0 ? rts : r.ts, r.body)
    enc.finish(module, core, BigInt(i + 1))
  }
  const c = process.cpuUsage(c0)
  const label = 'parser: decode + encode (this checkout)'
  console.log(`${label.padEnd(48)} ${((c.user + c.system) / (appends * batch)).toFixed(3)} CPU-µs/record`)
}
const base = process.env.MI_BENCH_BASE
if (base) {
  // What that checkout's parser did per frame instead of encoding: decode (scope checks) and the
  // accepted-frame header for the writer ring.
  const decode = await protocolOf(base)
  const { writeAcceptedHeader } = await import(path.join(base, 'packages/engine/src/messages.ts'))
  const scratch = Buffer.alloc(512)
  const c0 = process.cpuUsage()
  for (let i = 0; i < appends; i++) {
    decode()
    writeAcceptedHeader(scratch, 0, moduleNames[i % modules]!, core, BigInt(i + 1), rts)
  }
  const c = process.cpuUsage(c0)
  const label = 'parser: decode + header (MI_BENCH_BASE)'
  console.log(`${label.padEnd(48)} ${((c.user + c.system) / (appends * batch)).toFixed(3)} CPU-µs/record`)
  await cpuPerRecord(base, 'writer: decode again + append (MI_BENCH_BASE)', async () => {
    const decode = await protocolOf(base)
    return (log, i) => {
      const rs = decode().map((r: { stream: string; ts: number; body: Uint8Array }) => ({
        stream: r.stream,
        ts: r.ts === 0 ? rts : r.ts,
        body: r.body,
      }))
      log.append({ module: `module-${i % modules}`, core: '', seq: BigInt(i + 1), rts, records: rs })
    }
  })
}
