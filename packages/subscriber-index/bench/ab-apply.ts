// A/B helper (issue 17): run against two worktrees alternately, e.g. `node bench/ab-apply.ts /work/wt/main 300000 1`.
// Usage: node bench/ab-apply.ts <worktree> [records] [fields 1|0]. Prints CPU µs per record.
// usage: node apply.ts <worktree> [records] [fields=1]
// Scenario-like workload: 8 modules, ts cycling over 3600 s (1 s apart) per module, batches of 5000.
const wt = process.argv[2]!
const total = Number(process.argv[3] ?? 300000)
const withFields = (process.argv[4] ?? '1') === '1'
const { IndexWriter } = await import(`${wt}/packages/subscriber-index/src/writer.ts`)

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const dir = mkdtempSync(join(tmpdir(), 'idx-ab-'))
const T0 = Date.UTC(2026, 10, 22, 9, 0, 0) * 1000
const bodies = Array.from({ length: 3600 }, (_, i) =>
  Buffer.from(
    JSON.stringify({
      temp: Math.round(Math.sin(i / 50) * 1000) / 1000,
      load: Math.round((Math.sin(i / 50 + 1) + 1) * 1000) / 1000,
    }),
  ),
)
const w = new IndexWriter(join(dir, 'i.sqlite'), { fields: withFields ? ['temp', 'load'] : [] })
const counters = new Array(8).fill(0)
let lsn = 0
function batch(n: number) {
  const out = []
  for (let k = 0; k < n; k++) {
    const m = Math.floor(k / 32) % 8 // frames of 32 records from 8 connections
    const i = counters[m]++
    out.push({
      lsn: ++lsn,
      stream: 'bench',
      module: `bench-${m}`,
      core: 'c0',
      ts: T0 + (i % 3600) * 1_000_000,
      body: bodies[i % 3600],
    })
  }
  return out
}
// warm
for (let i = 0; i < 20; i++) w.apply(batch(5000))
const batches = []
for (let i = 0; i < total; i += 5000) batches.push(batch(5000))
const c0 = process.cpuUsage()
const t0 = performance.now()
for (const b of batches) w.apply(b)
const c = process.cpuUsage(c0)
const s = (performance.now() - t0) / 1000
const cpu = (c.user + c.system) / 1e6
console.log(
  JSON.stringify({
    wt,
    fields: withFields,
    records: total,
    usPerRecordCpu: +((cpu * 1e6) / total).toFixed(2),
    usPerRecordSys: +(c.system / total).toFixed(2),
    wallRate: Math.round(total / s),
    load: (await import('node:os')).loadavg()[0]!.toFixed(2),
  }),
)
w.close()
rmSync(dir, { recursive: true, force: true })
