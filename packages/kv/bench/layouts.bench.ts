/**
 * Where the apply floor is: raw node:sqlite (no decode, no outcomes), CPU µs per set of the same
 * sets (deliveries of 5000, synchronous FULL, WAL) written into candidate table layouts. For
 * deciding a schema change before making it; not a probe of the shipped code (apply.bench.ts is).
 *
 *   LAYOUT=current node packages/kv/bench/layouts.bench.ts   # KEYS=10000 SETS=100000 H=10 RANDOM=
 *
 * - current: schema 3 (schema.ts): key rows and their history ring in one WITHOUT ROWID B-tree,
 *   the ring slot written by the trigger of the key's upsert.
 * - live: key rows only, no history at all: the floor any layout with history is above.
 * - hlog: key rows (ns, key) + history appended to a rowid table keyed by lsn (a trigger), and a
 *   cleaner that scans the next 2×(sets) history rows (in lsn order, wrapping) each delivery and
 *   deletes those no longer among their key's newest H. Reads of a key's history would need the
 *   lsns of its ring in the key row, and a deleted key's ring somewhere (not modelled here).
 * - ring: the ring inside the key row as a JSONB array of [lsn, op, ts, type, value, expires],
 *   edited in SQL by the upsert (one row write per set); deleted keys not modelled either.
 * Sets go round-robin over the keys (as apply.bench.ts), or uniformly at random with RANDOM=1.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'

const KEYS = Number(process.env.KEYS ?? 10000)
const SETS = Number(process.env.SETS ?? 100000)
const H = Number(process.env.H ?? 10)
const LAYOUT = process.env.LAYOUT ?? 'current'
const kDelivery = 5000
const dir = mkdtempSync(join(tmpdir(), 'kvlayout-'))
const db = new DatabaseSync(join(dir, 's.sqlite'))
db.exec('PRAGMA cache_size = -65536; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL')
db.exec('PRAGMA wal_autocheckpoint = 10000')

/** The key's upsert; `slot`: schema 3's live row (slot -1); `col`: one more column and its value. */
const upsert = (slot: boolean, col?: [string, string], extraSet = '') => `INSERT INTO kv (ns, key,
  ${slot ? 'slot, ' : ''}type, value, rev, created, expires, hseq${col ? `, ${col[0]}` : ''})
  VALUES (?1, ?2, ${slot ? '-1, ' : ''}?3, ?4, ?5, ?5, ?6, 1${col ? `, ${col[1]}` : ''})
  ON CONFLICT DO UPDATE SET type = excluded.type, value = excluded.value, rev = excluded.rev,
  created = iif(kv.expires <= ?7, excluded.created, kv.created), expires = excluded.expires,
  hseq = kv.hseq + 1${extraSet}`
const liveDdl = (cols = '') => `CREATE TABLE kv (ns TEXT NOT NULL, key TEXT NOT NULL, type TEXT, value TEXT,
  rev INTEGER NOT NULL, created INTEGER, expires INTEGER, hseq INTEGER NOT NULL${cols},
  PRIMARY KEY (ns, key)) WITHOUT ROWID`
let sql: string
let afterDelivery = (_sets: number, _lsn: number) => {}
if (LAYOUT === 'current') {
  db.exec(`CREATE TABLE kv (ns TEXT NOT NULL, key TEXT NOT NULL, slot INTEGER NOT NULL, type TEXT,
      value TEXT, rev INTEGER NOT NULL, created INTEGER, expires INTEGER, hseq INTEGER NOT NULL, op TEXT,
      ts INTEGER, PRIMARY KEY (ns, key, slot)) WITHOUT ROWID;
    CREATE INDEX kv_expires ON kv (expires) WHERE expires IS NOT NULL AND slot = -1;
    CREATE INDEX kv_live ON kv (ns, key) WHERE slot = -1;
    CREATE TEMP TRIGGER kv_history AFTER UPDATE OF hseq ON main.kv WHEN NEW.slot = -1 BEGIN
      INSERT INTO main.kv (ns, key, slot, hseq, rev, op, type, value, expires, ts)
        VALUES (NEW.ns, NEW.key, NEW.hseq % ${H}, NEW.hseq, NEW.rev, 'set', NEW.type, NEW.value, NEW.expires, NEW.ts)
        ON CONFLICT (ns, key, slot) DO UPDATE SET hseq = excluded.hseq, rev = excluded.rev, op = excluded.op,
        type = excluded.type, value = excluded.value, expires = excluded.expires, ts = excluded.ts;
    END;`)
  sql = upsert(true, ['ts', '?7'], ', ts = excluded.ts')
} else if (LAYOUT === 'live') {
  db.exec(liveDdl())
  sql = upsert(false)
} else if (LAYOUT === 'hlog') {
  db.exec(`${liveDdl()};
    CREATE TABLE hist (lsn INTEGER PRIMARY KEY, ns TEXT NOT NULL, key TEXT NOT NULL, hseq INTEGER,
      op TEXT, type TEXT, value TEXT, expires INTEGER, ts INTEGER);
    CREATE TEMP TRIGGER kv_h AFTER UPDATE OF hseq ON main.kv BEGIN
      INSERT INTO main.hist VALUES (NEW.rev, NEW.ns, NEW.key, NEW.hseq, 'set', NEW.type, NEW.value, NEW.expires, 0);
    END;
    CREATE TEMP TRIGGER kv_hi AFTER INSERT ON main.kv BEGIN
      INSERT INTO main.hist VALUES (NEW.rev, NEW.ns, NEW.key, NEW.hseq, 'set', NEW.type, NEW.value, NEW.expires, 0);
    END;`)
  sql = upsert(false)
  const clean = db.prepare(`DELETE FROM hist WHERE lsn IN (SELECT h.lsn FROM hist h
    JOIN kv k ON k.ns = h.ns AND k.key = h.key WHERE h.lsn >= ?1 AND h.lsn < ?2 AND h.hseq <= k.hseq - ${H})`)
  const next = db.prepare('SELECT lsn FROM hist WHERE lsn >= ? ORDER BY lsn LIMIT 1 OFFSET ?')
  let cursor = 0
  afterDelivery = (sets, lsn) => {
    const r = next.get(cursor, 2 * sets) as { lsn: number } | undefined
    clean.run(cursor, r ? r.lsn : lsn + 1)
    cursor = r ? r.lsn : 0
  }
} else if (LAYOUT === 'ring') {
  db.exec(liveDdl(', h BLOB'))
  const entry = (p: string) => `jsonb_array(${p}rev, 'set', ?7, ${p}type, ${p}value, ${p}expires)`
  sql = upsert(
    false,
    ['h', `jsonb_array(jsonb_array(?5, 'set', ?7, ?3, ?4, ?6))`],
    `, h = jsonb_insert(iif(kv.hseq >= ${H}, jsonb_remove(kv.h, '$[0]'), kv.h), '$[#]', ${entry('excluded.')})`,
  )
} else throw new Error(`LAYOUT=${LAYOUT}: current, live, hlog or ring`)
const set = db.prepare(sql)

const value = (i: number) => JSON.stringify({ temp: i % 100, fw: '1.2.3' })
let lsn = 0
function deliver(keys: number[]) {
  db.exec('BEGIN IMMEDIATE')
  const ts = Date.now()
  for (const k of keys) set.run('bench', `device-${k}`, 'json', value(k), ++lsn, null, ts)
  afterDelivery(keys.length, lsn)
  db.exec('COMMIT')
}
// Every key written H+1 times first (rings full; ROUNDS= to change), in deliveries; then the sets.
const rounds = Number(process.env.ROUNDS ?? H + 1)
for (let r = 0; r < rounds; r++)
  for (let i = 0; i < KEYS; i += kDelivery)
    deliver(Array.from({ length: Math.min(kDelivery, KEYS - i) }, (_, j) => i + j))
const n = Math.min(KEYS, SETS)
const order = Array.from({ length: SETS }, (_, i) =>
  process.env.RANDOM ? Math.floor(Math.random() * KEYS) : Math.floor(((i % n) * KEYS) / n),
)
const cpu = process.cpuUsage()
for (let i = 0; i < SETS; i += kDelivery) deliver(order.slice(i, i + kDelivery))
const u = process.cpuUsage(cpu)
const pages = (db.prepare('PRAGMA page_count').get() as { page_count: number }).page_count
db.close()
rmSync(dir, { recursive: true, force: true })
console.log(
  JSON.stringify({
    layout: LAYOUT,
    keys: KEYS,
    random: !!process.env.RANDOM,
    cpuUsPer: +((u.user + u.system) / SETS).toFixed(2),
    sysUs: +(u.system / SETS).toFixed(2),
    pages,
    load1: loadavg()[0],
  }),
)
