/**
 * CPU per record of a GroupCursor reading groups none of whose streams its caller wants (derived
 * records `ai.x` read by a subscriber of `bench`): decoded into columns (no `wants`) against
 * handed out undecoded (`wants`). Groups of 512 records, one append each, ~140 B bodies; rounds
 * alternate the two. Not part of the test suite.
 *
 *   cd packages/log && node bench/group-skip.bench.ts
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { GroupCursor, openLog, openReader } from '../src/index.ts'

const total = Number(process.env.MI_BENCH_RECORDS ?? 500_000)
const rounds = Number(process.env.MI_BENCH_ROUNDS ?? 4)
const rts = 1_700_000_000_000_000
const body = Buffer.from(
  '{"lsn":1234567,"module":"m1","core":"","stream":"bench","ts":1796539701687000,"outputs":{"score":523.4567,"code":[0.1234567,-1.234567,2.345678]}}',
)

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mi-group-skip-bench-'))
try {
  const log = await openLog(dir, { flush: 'none' })
  for (let n = 0, seq = 1n; n < total; n += 512, seq++) {
    const records = Array.from({ length: 512 }, () => ({ stream: 'ai.x', ts: rts, body }))
    log.append({ module: 'ai', core: '', seq, rts, records })
    await log.sync() // one group per append, as the writer commits an emitted batch
  }
  await log.close()
  const reader = await openReader(dir)
  const run = async (wants: ((s: string) => boolean) | undefined): Promise<number> => {
    const gc = new GroupCursor(reader, { wants })
    let count = 0
    const cpu0 = process.cpuUsage()
    for (let gs = await gc.read({ maxRecords: 512 }); gs.length > 0; gs = await gc.read({ maxRecords: 512 }))
      for (const g of gs) count += g.count - g.first
    const cpu = process.cpuUsage(cpu0)
    gc.close()
    return ((cpu.user + cpu.system) * 1000) / count
  }
  for (let r = 0; r < rounds; r++) {
    const decoded = await run(undefined)
    const skipped = await run((s) => s === 'bench')
    console.log(`decoded ${decoded.toFixed(0)} ns/record, skipped ${skipped.toFixed(0)} ns/record`)
  }
  await reader.close()
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
