// Storage trial behind the README's choice. Not a dependency: run it from a scratch directory
// with lmdb installed (`npm i lmdb@3`), e.g. `cp bench/lmdb-compare.mjs /tmp/x/ && cd /tmp/x && node lmdb-compare.mjs`.
// SQLite (node:sqlite) vs lmdb: 100k record rows (lsn → ts, stream, module) plus a (ts, lsn)
// secondary index, 500 per transaction; then 200 range reads of 1,000 rows by ts.
import { rmSync } from 'node:fs'
import { DatabaseSync } from 'node:sqlite'
import { open } from 'lmdb'

const N = 100_000
const T0 = 1_790_000_000_000_000
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.floor((p / 100) * xs.length)]
async function lmdbRun() {
  rmSync('lmdb-db', { recursive: true, force: true })
  const env = open({ path: 'lmdb-db', compression: false })
  const recs = env.openDB({ name: 'records', keyEncoding: 'uint32' })
  const byTs = env.openDB({ name: 'by_ts', keyEncoding: 'ordered-binary' })
  let t = performance.now()
  for (let b = 0; b < N; b += 500) {
    await env.transaction(() => {
      for (let i = b; i < b + 500; i++) {
        recs.put(i + 1, [T0 + i * 1000, 1 + (i % 4), 1 + (i % 50), 0])
        byTs.put([T0 + i * 1000, i + 1], 1)
      }
    })
  }
  const ingest = N / ((performance.now() - t) / 1000)
  const lat = []
  for (let q = 0; q < 200; q++) {
    const from = T0 + Math.floor(Math.random() * (N - 1000)) * 1000
    t = performance.now()
    for (const { key } of byTs.getRange({ start: [from, 0], limit: 1000 })) {
      recs.get(key[1])
    }
    lat.push(performance.now() - t)
  }
  await env.close()
  return { ingest: Math.round(ingest), p50: pct(lat, 50).toFixed(2), p99: pct(lat, 99).toFixed(2) }
}
function sqliteRun() {
  for (const s of ['', '-wal', '-shm']) rmSync(`s.sqlite${s}`, { force: true })
  const db = new DatabaseSync('s.sqlite')
  db.exec(
    'PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; CREATE TABLE records (lsn INTEGER PRIMARY KEY, ts INTEGER, stream INTEGER, module INTEGER, core INTEGER); CREATE INDEX r_ts ON records(ts, lsn)',
  )
  const tuple = '(?,?,?,?,?)'
  const st = db.prepare(`INSERT INTO records VALUES ${Array(100).fill(tuple).join(',')}`)
  let t = performance.now()
  for (let b = 0; b < N; b += 500) {
    db.exec('BEGIN')
    for (let k = b; k < b + 500; k += 100) {
      const args = []
      for (let i = k; i < k + 100; i++) args.push(i + 1, T0 + i * 1000, 1 + (i % 4), 1 + (i % 50), 0)
      st.run(...args)
    }
    db.exec('COMMIT')
  }
  const ingest = N / ((performance.now() - t) / 1000)
  const q = db.prepare(
    'SELECT lsn, ts, stream, module, core FROM records WHERE ts >= ? ORDER BY ts, lsn LIMIT 1000',
  )
  const lat = []
  for (let i = 0; i < 200; i++) {
    const from = T0 + Math.floor(Math.random() * (N - 1000)) * 1000
    t = performance.now()
    q.all(from)
    lat.push(performance.now() - t)
  }
  db.close()
  return { ingest: Math.round(ingest), p50: pct(lat, 50).toFixed(2), p99: pct(lat, 99).toFixed(2) }
}
for (let r = 0; r < 2; r++) {
  console.log('sqlite', JSON.stringify(sqliteRun()))
  console.log('lmdb  ', JSON.stringify(await lmdbRun()))
}
