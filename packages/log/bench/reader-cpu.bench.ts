/**
 * CPU per record of a cursor reading a log back (group CRC, decode, record objects, body copies).
 * Not part of the test suite. The log is filled first (flush 'none'), then read whole `rounds`
 * times with a fresh reader; reported as process.cpuUsage µs per record.
 *
 *   cd packages/log && node bench/reader-cpu.bench.ts
 *   MI_BENCH_BATCH=1 MI_BENCH_RECORDS=200000 node bench/reader-cpu.bench.ts
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { openLog, openReader } from '../src/index.ts'

const batch = Number(process.env.MI_BENCH_BATCH ?? 64)
const total = Number(process.env.MI_BENCH_RECORDS ?? 400_000)
const rounds = Number(process.env.MI_BENCH_ROUNDS ?? 5)
const rts = 1_700_000_000_000_000
const body = new Uint8Array(128).fill(7)

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mi-reader-bench-'))
try {
  const log = await openLog(dir, { flush: 'none' })
  let seq = 0n
  for (let n = 0; n < total; n += batch) {
    const records = Array.from({ length: batch }, (_, i) => ({
      stream: `sensor.s${i % 4}`,
      ts: rts - i,
      body,
    }))
    log.append({ module: `m${n % 100}`, core: '', seq: ++seq, rts, records })
    if (seq % 256n === 0n) await log.sync()
  }
  await log.close()
  const per: number[] = []
  for (let r = 0; r < rounds; r++) {
    const reader = await openReader(dir)
    const c = reader.cursor()
    let count = 0
    const cpu0 = process.cpuUsage()
    for (
      let got = await c.read({ maxRecords: 10_000 });
      got.length > 0;
      got = await c.read({ maxRecords: 10_000 })
    )
      count += got.length
    const cpu = process.cpuUsage(cpu0)
    await reader.close()
    per.push((cpu.user + cpu.system) / count)
  }
  per.sort((a, b) => a - b)
  console.log(
    `reader: ${total} records, batch ${batch}: cpu µs/record median ${per[rounds >> 1]!.toFixed(3)} min ${per[0]!.toFixed(3)} (load ${os.loadavg()[0]!.toFixed(2)})`,
  )
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
