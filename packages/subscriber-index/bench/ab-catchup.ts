// A/B helper (issue 17): `node bench/ab-catchup.ts <worktree> [records]` (NOOP=1: index with records: false and no fields).
// Server CPU per applied record: a log of N records (8 modules, frames of 32, JSON temp/load, producer
// times cycling over an hour), then `module-ingest serve` with the index subscriber catching up, no
// ingest, no queries. CPU = the server process (all threads) from its first applied batch to the last.
const wt = process.argv[2]!
const N = Number(process.argv[3] ?? 500000)
const { openLog } = await import(`${wt}/packages/log/src/index.ts`)
const { startServerProcess } = await import(`${wt}/packages/testing/src/index.ts`)

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'

const dataDir = mkdtempSync(join(tmpdir(), 'idx-catchup-'))
const log = await openLog(join(dataDir, 'log'), { flush: 'none' })
const nowUs = Date.now() * 1000
const bodies = Array.from({ length: 3600 }, (_, i) =>
  Buffer.from(
    JSON.stringify({
      temp: Math.round(Math.sin(i / 50) * 1000) / 1000,
      load: Math.round((Math.sin(i / 50 + 1) + 1) * 1000) / 1000,
    }),
  ),
)
const seqs = new Array(8).fill(0n)
const idx = new Array(8).fill(0)
for (let f = 0; f < N / 32; f++) {
  const m = f % 8
  const records = []
  for (let k = 0; k < 32; k++) {
    const i = idx[m]++
    records.push({
      stream: 'bench',
      ts: Math.round(nowUs - 3600e6 + (i % 3600) * 1e6),
      body: bodies[i % 3600],
    })
  }
  log.append({ module: `bench-${m}`, core: '', seq: ++seqs[m], rts: nowUs, records })
  if (f % 200 === 0) await new Promise((r) => setImmediate(r))
}
await log.close()
const cpu = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}
const indexPath = join(dataDir, 'index.sqlite')
const server = await startServerProcess({
  dataDir,
  config: {
    subscribers: [
      {
        name: 'index',
        use: 'index',
        streams: ['bench'],
        batch: { maxRecords: 5000, maxWaitMs: 50 },
        options: process.env.NOOP
          ? { path: indexPath, records: false, fields: [] }
          : { path: indexPath, fields: ['temp', 'load'] },
      },
    ],
  },
})
const applied = () => {
  if (!existsSync(indexPath)) return 0
  try {
    const db = new DatabaseSync(indexPath, { readOnly: true })
    try {
      return (
        (db.prepare('SELECT max(lsn) AS l FROM applied').get() as { l: number | null } | undefined)?.l ?? 0
      )
    } finally {
      db.close()
    }
  } catch {
    return 0
  }
}
let a0 = 0,
  c0 = 0,
  t0 = 0
for (;;) {
  const a = applied()
  if (a > 0) {
    a0 = a
    c0 = cpu(server.pid)
    t0 = performance.now()
    break
  }
  await new Promise((r) => setTimeout(r, 20))
}
let a1 = 0
for (;;) {
  a1 = applied()
  if (a1 >= N) break
  await new Promise((r) => setTimeout(r, 50))
}
const c1 = cpu(server.pid)
const s = (performance.now() - t0) / 1000
console.log(
  JSON.stringify({
    wt,
    records: a1 - a0,
    cpuUsPerRecord: +(((c1 - c0) * 1e6) / (a1 - a0)).toFixed(2),
    wallRecordsPerS: Math.round((a1 - a0) / s),
    load: loadavg()[0]!.toFixed(2),
  }),
)
server.kill('SIGKILL')
await server.exited
rmSync(dataDir, { recursive: true, force: true })
