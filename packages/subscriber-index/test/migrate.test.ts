/**
 * A schema 1 file (one `records` row per record, `rollup_1s`/`rollup_1m` rows) is migrated in
 * place when a writer opens it, and then answers like an index built by schema 2 from the start.
 */
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import test from 'ava'
import { IndexReader, IndexWriter, MI_ERR_INDEX_SCHEMA } from '../src/index.ts'
import { all, at, memorySource, tempDir } from './_helpers.ts'

// Schema 1's tables, as packages/subscriber-index 0.1.0 created them.
const kV1 = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE names (id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, name TEXT NOT NULL, UNIQUE (kind, name));
CREATE TABLE applied (module INTEGER PRIMARY KEY, lsn INTEGER NOT NULL);
CREATE TABLE records (lsn INTEGER PRIMARY KEY, ts INTEGER NOT NULL, stream INTEGER NOT NULL, module INTEGER NOT NULL, core INTEGER NOT NULL);
CREATE INDEX records_ts ON records (ts, lsn);
CREATE INDEX records_stream_ts ON records (stream, ts, lsn);
CREATE TABLE series (id INTEGER PRIMARY KEY, stream INTEGER NOT NULL, module INTEGER NOT NULL, field TEXT NOT NULL,
  last REAL, last_ts INTEGER, last_lsn INTEGER, UNIQUE (stream, module, field));
CREATE TABLE points (series INTEGER NOT NULL, ts INTEGER NOT NULL, lsn INTEGER NOT NULL, value REAL NOT NULL,
  PRIMARY KEY (series, ts, lsn)) WITHOUT ROWID;
CREATE TABLE rollup_1s (series INTEGER NOT NULL, bucket INTEGER NOT NULL, count INTEGER NOT NULL, min REAL NOT NULL,
  max REAL NOT NULL, sum REAL NOT NULL, last REAL NOT NULL, last_ts INTEGER NOT NULL, last_lsn INTEGER NOT NULL,
  max_lsn INTEGER NOT NULL, PRIMARY KEY (series, bucket)) WITHOUT ROWID;
CREATE TABLE rollup_1m (series INTEGER NOT NULL, bucket INTEGER NOT NULL, count INTEGER NOT NULL, min REAL NOT NULL,
  max REAL NOT NULL, sum REAL NOT NULL, last REAL NOT NULL, last_ts INTEGER NOT NULL, last_lsn INTEGER NOT NULL,
  max_lsn INTEGER NOT NULL, PRIMARY KEY (series, bucket)) WITHOUT ROWID;
INSERT INTO meta VALUES ('schema', 1), ('raw_points', 0);
INSERT INTO names VALUES (1, 1, 'kiln-7'), (2, 0, 'telemetry.kiln'), (3, 2, '');
INSERT INTO series (id, stream, module, field) VALUES (1, 2, 1, 'temp');
`

// Three records a second for three minutes: lsn i + 1 at second i / 3, temp = i.
const recs = Array.from({ length: 540 }, (_, i) => ({
  lsn: i + 1,
  ts: at(i / 3),
  stream: 'telemetry.kiln',
  module: 'kiln-7',
  core: '',
  body: JSON.stringify({ temp: i }),
}))

function writeV1(path: string): void {
  const db = new DatabaseSync(path)
  db.exec(kV1)
  const rec = db.prepare('INSERT INTO records VALUES (?, ?, 2, 1, 3)')
  for (const r of recs) rec.run(r.lsn, r.ts)
  const roll = db.prepare('INSERT INTO rollup_1s VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
  for (let s = 0; s < 180; s++) {
    const i = s * 3 // the second's three records: i, i + 1, i + 2
    roll.run(at(s), 3, i, i + 2, 3 * i + 3, i + 2, recs[i + 2]!.ts, i + 3, i + 3)
  }
  db.prepare('INSERT INTO applied VALUES (1, ?)').run(recs.length)
  db.prepare('UPDATE series SET last = ?, last_ts = ?, last_lsn = ? WHERE id = 1').run(
    539,
    recs[539]!.ts,
    540,
  )
  db.close()
}

test('a writer migrates a schema 1 file in place; it then answers like a fresh schema 2 index', async (t) => {
  const dir = tempDir(t)
  const old = join(dir, 'v1.sqlite')
  writeV1(old)
  // A reader refuses the old file; the writer migrates it.
  t.throws(() => new IndexReader(old).ready, { instanceOf: MI_ERR_INDEX_SCHEMA })
  const migrated = new IndexWriter(old, { fields: ['temp'] })
  t.is(migrated.appliedLsn(), 540)
  // Redelivery after the migration is still skipped.
  t.is(migrated.apply(recs.slice(500).map((r) => ({ ...r, body: Buffer.from(r.body) }))).skipped, 40)
  migrated.close()

  const fresh = new IndexWriter(join(dir, 'v2.sqlite'), { fields: ['temp'] })
  fresh.apply(recs.map((r) => ({ ...r, body: Buffer.from(r.body) })))
  fresh.close()

  const answers = async (path: string) => {
    const r = new IndexReader(path)
    t.teardown(() => r.close())
    const range = (stepUs: number, agg: 'avg' | 'last' | 'count') =>
      r.range({
        streams: all,
        field: 'temp',
        fromUs: at(0),
        toUs: at(180),
        stepUs,
        agg,
        limit: 1000,
        maxSeries: 1,
      })
    return {
      s1: range(1_000_000, 'avg'),
      s5: range(5_000_000, 'last'),
      m1: range(60_000_000, 'count'),
      latest: r.series({ streams: all, limit: 10 }),
      records: await r.records(
        { streams: all, fromUs: at(30), toUs: at(150), limit: 1000, minLsn: 1 },
        memorySource(recs),
      ),
    }
  }
  const got = await answers(old)
  t.deepEqual(got, await answers(join(dir, 'v2.sqlite')))
  t.is(got.m1.series[0]!.points.length, 3)
  t.is(got.records.records.length, 360)
  const db = new DatabaseSync(old, { readOnly: true })
  t.teardown(() => db.close())
  t.deepEqual(
    db.prepare("SELECT name FROM sqlite_schema WHERE name IN ('records', 'rollup_1s', 'rollup_1m')").all(),
    [],
  )
})
