import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import test, { type ExecutionContext } from 'ava'
import { KvReader } from '../src/read.ts'
import { KvStore } from '../src/store.ts'
import { LogSim, T0, tempDir } from './_helpers.ts'

const str = (value: string) => ({ type: 'string' as const, value })

test('history is a ring of the newest historyPerKey writes, across deletes, expiry and re-creation', (t) => {
  const path = join(tempDir(t), 'kv.sqlite')
  const log = new LogSim()
  let store = new KvStore(path, { historyPerKey: 3, sweepIntervalMs: 0 })
  const reader = new KvReader(path)
  t.teardown(() => {
    reader.close()
    store.close()
  })
  const values = (limit = 10) => reader.history('d', 'k', { limit }).map((e) => e.value ?? e.op)
  for (const v of ['a', 'b', 'c', 'd', 'e'])
    store.apply(log.frame('d', [{ op: 'set', key: 'k', value: str(v) }]))
  t.deepEqual(values(), ['e', 'd', 'c'])
  store.apply(log.frame('d', [{ op: 'del', key: 'k' }]))
  store.apply(log.frame('d', [{ op: 'set', key: 'k', value: str('f') }]))
  t.deepEqual(values(), ['f', 'del', 'e'], 're-created after a delete: numbering continues')
  t.like(reader.get('d', 'k', T0), { value: 'f', revision: 7, created: 7 })
  // Expired, swept by the next delivery, then written again (plain set and a checked one).
  store.apply(log.frame('d', [{ op: 'set', key: 'k', value: str('g'), ttlMs: 10 }], T0))
  store.apply(log.frame('d', [{ op: 'set', key: 'x', value: str('-') }], T0 + 100))
  t.is(reader.get('d', 'k', T0 + 100), undefined)
  store.apply(log.frame('d', [{ op: 'set', key: 'k', value: str('h'), rev: 0 }], T0 + 200))
  t.deepEqual(values(), ['h', 'g', 'f'])
  store.apply(log.frame('d', [{ op: 'set', key: 'k', value: str('i'), ttlMs: 10 }], T0 + 300))
  store.apply(log.frame('d', [{ op: 'set', key: 'k', value: str('j') }], T0 + 400)) // expired, not yet swept
  t.like(reader.get('d', 'k', T0 + 400), { value: 'j', created: 12 })
  t.deepEqual(values(), ['j', 'i', 'h'])
  t.deepEqual(values(2), ['j', 'i'])
  store.apply(log.frame('d', [{ op: 'del', key: 'x' }], T0 + 400))
  t.deepEqual(
    reader.keys('d', { limit: 10 }, T0 + 400).keys.map((k) => k.key),
    ['k'],
    'listing sees live keys only, not the history of deleted ones',
  )
  // A smaller ring on reopen keeps the newest; a larger one fills up from there.
  store.close()
  store = new KvStore(path, { historyPerKey: 2 })
  t.deepEqual(values(), ['j', 'i'])
  store.close()
  store = new KvStore(path, { historyPerKey: 4 })
  for (const v of ['k', 'l', 'm'])
    store.apply(log.frame('d', [{ op: 'set', key: 'k', value: str(v) }], T0 + 500))
  t.deepEqual(values(), ['m', 'l', 'k', 'j'])
  // 0: no history at all (a set writes only its row); turned back on, it starts again.
  store.close()
  store = new KvStore(path, { historyPerKey: 0 })
  t.deepEqual(values(), [])
  store.apply(log.frame('d', [{ op: 'set', key: 'k', value: str('n') }], T0 + 600))
  store.apply(log.frame('d', [{ op: 'del', key: 'k' }], T0 + 600))
  t.deepEqual(values(), [])
  store.close()
  store = new KvStore(path, { historyPerKey: 2 })
  store.apply(log.frame('d', [{ op: 'set', key: 'k', value: str('o') }], T0 + 700))
  t.deepEqual(values(), ['o'])
})

test('a schema 1 store file is migrated in place on open', (t) => {
  const path = join(tempDir(t), 'kv.sqlite')
  const v1 = new DatabaseSync(path)
  // The schema 1 tables that changed (meta, outcomes and pending are the same in 2).
  v1.exec(`PRAGMA journal_mode = WAL;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
    CREATE TABLE kv (ns TEXT NOT NULL, key TEXT NOT NULL, type TEXT NOT NULL, value TEXT NOT NULL,
      rev INTEGER NOT NULL, created INTEGER NOT NULL, expires INTEGER, PRIMARY KEY (ns, key)) WITHOUT ROWID;
    CREATE INDEX kv_expires ON kv (expires) WHERE expires IS NOT NULL;
    CREATE TABLE history (ns TEXT NOT NULL, key TEXT NOT NULL, lsn INTEGER NOT NULL, op TEXT NOT NULL,
      type TEXT, value TEXT, expires INTEGER, ts INTEGER NOT NULL, PRIMARY KEY (ns, key, lsn)) WITHOUT ROWID;
    INSERT INTO meta VALUES ('schema', 1), ('applied_lsn', 4), ('clock_ms', ${T0});
    INSERT INTO kv VALUES ('d', 'k', 'string', 'c', 3, 1, NULL);
    INSERT INTO history VALUES ('d', 'k', 1, 'set', 'string', 'a', NULL, ${T0}),
      ('d', 'k', 2, 'set', 'string', 'b', NULL, ${T0}), ('d', 'k', 3, 'set', 'string', 'c', NULL, ${T0}),
      ('d', 'gone', 4, 'del', NULL, NULL, NULL, ${T0});`)
  v1.close()
  const store = new KvStore(path, { historyPerKey: 2 })
  const reader = new KvReader(path)
  t.teardown(() => {
    reader.close()
    store.close()
  })
  t.is(store.appliedLsn(), 4)
  for (const index of ['kv_expires', 'kv_live'])
    t.truthy(
      store.db.prepare("SELECT 1 FROM sqlite_schema WHERE name = ? AND tbl_name = 'kv'").get(index),
      index,
    )
  t.like(reader.get('d', 'k', T0), { value: 'c', revision: 3, created: 1 })
  t.deepEqual(
    reader.history('d', 'k', { limit: 10 }).map((e) => e.value),
    ['c', 'b'],
  )
  const log = new LogSim()
  log.lsn = 4
  log.seq = 4n
  store.apply(log.frame('d', [{ op: 'set', key: 'k', value: str('d') }]))
  store.apply(log.frame('d', [{ op: 'set', key: 'gone', value: str('back') }]))
  t.deepEqual(
    reader.history('d', 'k', { limit: 10 }).map((e) => e.value),
    ['d', 'c'],
  )
  t.deepEqual(
    reader.history('d', 'gone', { limit: 10 }).map((e) => e.value ?? e.op),
    ['back', 'del'],
  )
})

test('a schema 3 store file (history as ring slots in kv) is migrated in place on open', (t) => {
  const path = join(tempDir(t), 'kv.sqlite')
  const v3 = new DatabaseSync(path)
  // The tables that changed in 4 (meta, outcomes and pending are the same).
  v3.exec(`PRAGMA journal_mode = WAL;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
    CREATE TABLE kv (ns TEXT NOT NULL, key TEXT NOT NULL, slot INTEGER NOT NULL, type TEXT, value TEXT,
      rev INTEGER NOT NULL, created INTEGER, expires INTEGER, hseq INTEGER NOT NULL, op TEXT, ts INTEGER,
      PRIMARY KEY (ns, key, slot)) WITHOUT ROWID;
    CREATE INDEX kv_expires ON kv (expires) WHERE expires IS NOT NULL AND slot = -1;
    CREATE INDEX kv_live ON kv (ns, key) WHERE slot = -1;
    INSERT INTO meta VALUES ('schema', 3), ('history_per_key', 2), ('applied_lsn', 5), ('clock_ms', ${T0});
    -- k: written 3 times (lsn 1, 2, 4), ring of 2 holds writes 2 and 3.
    INSERT INTO kv VALUES ('d', 'k', -1, 'string', 'c', 4, 1, NULL, 3, 'set', ${T0}),
      ('d', 'k', 0, 'string', 'b', 2, NULL, NULL, 2, 'set', ${T0}),
      ('d', 'k', 1, 'string', 'c', 4, NULL, NULL, 3, 'set', ${T0}),
    -- gone: set at lsn 3, deleted at lsn 5.
      ('d', 'gone', 1, 'string', 'x', 3, NULL, NULL, 1, 'set', ${T0}),
      ('d', 'gone', 0, NULL, NULL, 5, NULL, NULL, 2, 'del', ${T0});`)
  v3.close()
  const store = new KvStore(path, { historyPerKey: 2 })
  const reader = new KvReader(path)
  t.teardown(() => {
    reader.close()
    store.close()
  })
  t.is(store.appliedLsn(), 5)
  t.falsy(store.db.prepare('SELECT 1 FROM kv WHERE slot >= 0').get(), 'no ring slots left in kv')
  t.like(reader.get('d', 'k', T0), { value: 'c', revision: 4, created: 1 })
  const values = (key: string) => reader.history('d', key, { limit: 10 }).map((e) => e.value ?? e.op)
  t.deepEqual(values('k'), ['c', 'b'])
  t.deepEqual(values('gone'), ['del', 'x'])
  const log = new LogSim()
  log.lsn = 5
  log.seq = 5n
  store.apply(log.frame('d', [{ op: 'set', key: 'k', value: str('d') }]))
  store.apply(log.frame('d', [{ op: 'set', key: 'gone', value: str('back') }]))
  t.deepEqual(values('k'), ['d', 'c'])
  t.deepEqual(values('gone'), ['back', 'del'], 're-created: the chain and numbering continue')
  t.deepEqual(
    (store.dump().history as Array<{ key: string; hseq: number }>).map((h) => `${h.key}${h.hseq}`),
    ['gone2', 'gone3', 'k3', 'k4'],
  )
})

/** A new store file keeping `historyPerKey` writes, a reader on it and a log to feed it; closed with the test. */
function freshStore(t: ExecutionContext, historyPerKey: number) {
  const path = join(tempDir(t), 'kv.sqlite')
  const store = new KvStore(path, { historyPerKey })
  const reader = new KvReader(path)
  t.teardown(() => {
    reader.close()
    store.close()
  })
  return { log: new LogSim(), store, reader }
}

test('the cleaner keeps the history table within about twice the history kept', (t) => {
  const { log, store, reader } = freshStore(t, 3)
  // 20 keys, 100 writes each, deliveries of 50.
  for (let round = 0; round < 100; round++) {
    const recs = Array.from({ length: 20 }, (_, k) =>
      log.frame('d', [{ op: 'set', key: `k${k}`, value: str(`${round}`) }]),
    ).flat()
    store.apply(recs.slice(0, 10))
    store.apply(recs.slice(10))
  }
  const rows = (store.db.prepare('SELECT count(*) AS n FROM hist').get() as { n: number }).n
  // Each delivery passes over twice the rows it wrote: dead rows wait at most one pass.
  t.true(rows <= 2 * 60 + 20, `${rows} history rows for 60 kept`)
  t.deepEqual(
    reader.history('d', 'k7', { limit: 10 }).map((e) => e.value),
    ['99', '98', '97'],
  )
})

test('the cleaner is paced by the rows pushed out of the kept history: none pushed, no pass', (t) => {
  const { log, store, reader } = freshStore(t, 3)
  const cursor = () =>
    (
      store.db.prepare("SELECT value FROM meta WHERE key = 'hist_cursor'").get() as
        | { value: number }
        | undefined
    )?.value
  // 3 writes each of 50 keys: every write is kept, so nothing is garbage and the cleaner never runs.
  for (let round = 0; round < 3; round++)
    store.apply(
      Array.from({ length: 50 }, (_, k) =>
        log.frame('d', [{ op: 'set', key: `k${k}`, value: str(`${round}`) }]),
      ).flat(),
    )
  t.is(cursor(), undefined, 'no pass')
  t.is((store.db.prepare('SELECT count(*) AS n FROM hist').get() as { n: number }).n, 150)
  // A fourth write of 5 keys pushes out their first: the pass covers 2 × 5 rows and deletes the
  // garbage it meets (here: the oldest rows, k0..k4's first writes among them).
  store.apply(
    Array.from({ length: 5 }, (_, k) =>
      log.frame('d', [{ op: 'set', key: `k${k}`, value: str('3') }]),
    ).flat(),
  )
  t.is(cursor(), 11, 'passed 10 rows')
  t.is((store.db.prepare('SELECT count(*) AS n FROM hist').get() as { n: number }).n, 150)
  t.deepEqual(
    reader.history('d', 'k0', { limit: 10 }).map((e) => e.value),
    ['3', '2', '1'],
  )
})
