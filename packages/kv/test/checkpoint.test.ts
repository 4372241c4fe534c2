import { join } from 'node:path'
import test from 'ava'
import { checkpointPages } from '../src/schema.ts'
import { KvStore } from '../src/store.ts'
import { tempDir } from './_helpers.ts'

test('the WAL checkpoint interval: ~40 MiB for a small store, half the file for a large one, capped', (t) => {
  t.is(checkpointPages(0), 10_000)
  t.is(checkpointPages(20_000), 10_000)
  // A million-key store (~45,000 pages of 4 KiB).
  t.is(checkpointPages(45_355), 23_000)
  // Rounded to 1000: a growing file does not change it on every delivery.
  t.is(checkpointPages(45_700), 23_000)
  t.is(checkpointPages(10_000_000), 100_000)
})

test('a store sets the interval for its file when it opens', (t) => {
  const store = new KvStore(join(tempDir(t), 'kv.sqlite'))
  t.teardown(() => store.close())
  const row = store.db.prepare('PRAGMA wal_autocheckpoint').get() as { wal_autocheckpoint: number }
  t.is(row.wal_autocheckpoint, 10_000)
})
