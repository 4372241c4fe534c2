/**
 * `KvStore.apply` alone, in-process: CPU µs per set over a store preloaded with KEYS keys, SETS
 * single-op sets in deliveries of 5000, producers' frames in runs as in the server's log. One JSON
 * line (with the load average). For before/after runs alternated against another checkout.
 *
 *   node packages/kv/bench/apply.bench.ts                       # KEYS=10000 SETS=100000
 *   KEYS=1000000 SETS=50000 HIST=0 node packages/kv/bench/apply.bench.ts
 *   PRAGMAS='PRAGMA mmap_size = 2000000000' node packages/kv/bench/apply.bench.ts  # SQL run after open
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeOp } from '@module-ingest/kv-protocol'
import { KvStore } from '../src/store.ts'

const KEYS = Number(process.env.KEYS ?? 10000)
const SETS = Number(process.env.SETS ?? 100000)
const PRELOAD = process.env.PRELOAD !== '0'
const dir = mkdtempSync(join(tmpdir(), 'kvprof-'))
const store = new KvStore(join(dir, 's.sqlite'), {
  synchronous: 'full',
  historyPerKey: Number(process.env.HIST ?? 10),
})
const body = (i: number, txn = 1) =>
  encodeOp(
    { op: 'set', key: `device-${i}`, value: { type: 'json', value: { temp: i % 100, fw: '1.2.3' } } },
    txn,
  )
let lsn = 0
const rec = (b: Uint8Array, m: string, seq: number) => ({
  lsn: ++lsn,
  stream: 'kv.bench',
  module: m,
  core: '',
  seq: BigInt(seq),
  rts: Date.now() * 1000,
  body: b,
})
if (process.env.CKPT) store.db.exec(`PRAGMA wal_autocheckpoint = ${process.env.CKPT}`)
if (process.env.PRAGMAS) store.db.exec(process.env.PRAGMAS)
if (PRELOAD) {
  for (let i = 0; i < KEYS; i += 1000) {
    const n = Math.min(1000, KEYS - i)
    const rs = Array.from({ length: n }, (_, k) => rec(body(i + k, n), 'load', i))
    store.apply(rs)
  }
}
const bodies = Array.from({ length: Math.min(KEYS, SETS) }, (_, i) =>
  body(Math.floor((i * KEYS) / Math.min(KEYS, SETS))),
)
// like the server's log: producers' frames in runs (group commit keeps a connection's frames together)
const recs = Array.from({ length: SETS }, (_, i) =>
  rec(bodies[i % bodies.length]!, `m${Math.floor(i / 1250) % 4}`, i + 1),
)
const cpu = process.cpuUsage()
const t0 = performance.now()
for (let i = 0; i < SETS; i += 5000) store.apply(recs.slice(i, i + 5000))
const s = (performance.now() - t0) / 1000
const u = process.cpuUsage(cpu)
store.close()
rmSync(dir, { recursive: true, force: true })
console.log(
  JSON.stringify({
    keys: KEYS,
    sets: SETS,
    setsPerSec: Math.round(SETS / s),
    cpuUsPer: +((u.user + u.system) / SETS).toFixed(2),
    userUs: +(u.user / SETS).toFixed(2),
    sysUs: +(u.system / SETS).toFixed(2),
    load1: loadavg()[0],
  }),
)
