/**
 * `KvStore.apply` alone, in-process: CPU µs per set over a store preloaded with KEYS keys, SETS
 * single-op sets in deliveries of 5000, producers' frames in runs as in the server's log. One JSON
 * line (with the load average). For before/after runs alternated against another checkout.
 *
 *   node packages/kv/bench/apply.bench.ts                       # KEYS=10000 SETS=100000
 *   KEYS=1000000 SETS=50000 HIST=0 node packages/kv/bench/apply.bench.ts
 *   PRAGMAS='PRAGMA mmap_size = 2000000000' node packages/kv/bench/apply.bench.ts  # SQL run after open
 *   KEEP=/tmp/kv1m.sqlite KEYS=1000000 SETS=0 node …   # build a preloaded store once and keep it
 *   FROM=/tmp/kv1m.sqlite KEYS=1000000 DELIVERY=20000 node …  # a copy of it instead of preloading
 *
 * SPREAD=random: uniformly random keys. DELIVERY: records per apply() (the subscriber's
 * batch.maxRecords when it is behind), default 5000.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeOp } from '@module-ingest/kv-protocol'
import { KvStore } from '../src/store.ts'

const KEYS = Number(process.env.KEYS ?? 10000)
const SETS = Number(process.env.SETS ?? 100000)
const DELIVERY = Number(process.env.DELIVERY ?? 5000)
const FROM = process.env.FROM
const PRELOAD = process.env.PRELOAD !== '0' && !FROM
const dir = mkdtempSync(join(tmpdir(), 'kvprof-'))
if (FROM)
  for (const ext of ['', '-wal'])
    if (existsSync(FROM + ext)) copyFileSync(FROM + ext, join(dir, `s.sqlite${ext}`))
const store = new KvStore(join(dir, 's.sqlite'), {
  synchronous: 'full',
  historyPerKey: Number(process.env.HIST ?? 10),
})
const body = (i: number, txn = 1) =>
  encodeOp(
    { op: 'set', key: `device-${i}`, value: { type: 'json', value: { temp: i % 100, fw: '1.2.3' } } },
    txn,
  )
let lsn = FROM ? store.appliedLsn() : 0
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
// SPREAD=random: each set a uniformly random key (as 16 interleaved producers look to the store)
// instead of keys spread evenly and written in ascending number order.
// An LCG in 32-bit integer arithmetic (Math.imul): in doubles, seed * 1103515245 loses its low
// bits past 2^53 and the sequence fell into a short cycle (200,000 draws hit 15,706 of 1M keys).
let seed = 42
const rnd = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
  return (seed >>> 1) / 2147483648
}
const bodies = Array.from({ length: Math.min(KEYS, SETS) }, (_, i) =>
  body(
    process.env.SPREAD === 'random'
      ? Math.floor(rnd() * KEYS)
      : Math.floor((i * KEYS) / Math.min(KEYS, SETS)),
  ),
)
// like the server's log: producers' frames in runs (group commit keeps a connection's frames together)
const recs = Array.from({ length: SETS }, (_, i) =>
  rec(bodies[i % bodies.length]!, `m${Math.floor(i / 1250) % 4}`, i + 1),
)
const cpu = process.cpuUsage()
const t0 = performance.now()
for (let i = 0; i < SETS; i += DELIVERY) store.apply(recs.slice(i, i + DELIVERY))
const s = (performance.now() - t0) / 1000
const u = process.cpuUsage(cpu)
store.close()
if (process.env.KEEP) {
  copyFileSync(join(dir, 's.sqlite'), process.env.KEEP)
  rmSync(`${process.env.KEEP}-wal`, { force: true })
}
rmSync(dir, { recursive: true, force: true })
console.log(
  JSON.stringify({
    keys: KEYS,
    sets: SETS,
    delivery: DELIVERY,
    setsPerSec: Math.round(SETS / s),
    cpuUsPer: +((u.user + u.system) / SETS).toFixed(2),
    userUs: +(u.user / SETS).toFixed(2),
    sysUs: +(u.system / SETS).toFixed(2),
    load1: loadavg()[0],
  }),
)
