/**
 * The writer keeps the chunks it wrote in memory: they must never be stale. Another writer on the
 * same file (a second worker thread, concurrency > 1) and retention change the stored rows.
 */
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import test from 'ava'
import { IndexWriter } from '../src/index.ts'
import { at, tempDir } from './_helpers.ts'

/** Records of module `m` from lsn `first`, one per 0.5 s from second `from` (one minute's worth). */
function batch(m: string, first: number, from: number, n: number) {
  return Array.from({ length: n }, (_, i) => ({
    lsn: first + i,
    stream: 'telemetry',
    module: m,
    core: '',
    ts: at(from + i * 0.5),
    body: new TextEncoder().encode(JSON.stringify({ temp: (first + i) % 17, load: i })),
  }))
}

/** Every rollup chunk by names, the cells as hex: what two files must agree on. */
function rollups(path: string): unknown[] {
  const db = new DatabaseSync(path, { readOnly: true })
  try {
    return db
      .prepare(`SELECT n.name AS module, s.field, r.minute, r.count, r.min, r.max, r.sum, r.last,
          r.last_ts, r.last_lsn, r.max_lsn, hex(r.cells) AS cells
        FROM rollup r JOIN series s ON s.id = r.series JOIN names n ON n.id = s.module
        ORDER BY n.name, s.field, r.minute`)
      .all()
  } finally {
    db.close()
  }
}

const fields = ['temp', 'load']

test('two writers on one file taking turns give the rollups of one writer', (t) => {
  const dir = tempDir(t)
  // a applies batches 0, 2, 4 and b 1, 3: each writes m0's minute 0 the other wrote just before.
  const batches = [
    batch('m0', 1, 0, 50),
    batch('m0', 51, 25, 50),
    batch('m0', 101, 40, 50), // minutes 0 and 1
    batch('m1', 151, 0, 50),
    batch('m0', 201, 50, 50),
  ]
  const shared = join(dir, 'shared.sqlite')
  const a = new IndexWriter(shared, { fields })
  const b = new IndexWriter(shared, { fields })
  const one = new IndexWriter(join(dir, 'one.sqlite'), { fields })
  t.teardown(() => {
    for (const w of [a, b, one]) w.close()
  })
  for (const [i, x] of batches.entries()) {
    ;(i % 2 === 0 ? a : b).apply(x)
    one.apply(x)
  }
  t.deepEqual(rollups(shared), rollups(join(dir, 'one.sqlite')))
  t.is(
    (rollups(shared) as Array<{ count: number }>).reduce((n, r) => n + r.count, 0),
    250 * 2,
  )
})

test('a chunk dropped by retention is not written back from memory', (t) => {
  const dir = tempDir(t)
  const w = new IndexWriter(join(dir, 'i.sqlite'), { fields })
  t.teardown(() => w.close())
  w.apply(batch('m0', 1, 0, 20)) // minute 0, lsns 1-20
  t.true(w.prune(21) >= 20)
  t.deepEqual(rollups(join(dir, 'i.sqlite')), [])
  w.apply(batch('m0', 21, 10, 20)) // minute 0 again: only lsns 21-40 count
  const rows = rollups(join(dir, 'i.sqlite')) as Array<{ count: number }>
  t.deepEqual(
    rows.map((r) => r.count),
    [20, 20],
  )
})
