/**
 * The SQLite file: schema, pragmas and opening. One writer connection (the subscriber, any
 * number of its worker threads serialised by SQLite's write lock) and any number of read-only
 * connections (the query API) that WAL lets read while the writer writes.
 *
 * Names are interned (`names`) so record runs and series rows hold small integers.
 * Rollup chunks carry `max_lsn` so retention can drop the minutes whose records are all gone.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { MI_ERR_INDEX_SCHEMA } from './errors.ts'
import { migrateV1 } from './migrate.ts'

/**
 * 2: rollups as (series, minute) chunks with per-second cells (chunk.ts) and records as runs
 * (`record_runs`, runs.ts) instead of one row per record. A writer opening a version 1 file
 * migrates it in place (migrate.ts); a reader refuses it until then (MI_ERR_INDEX_SCHEMA).
 */
export const SCHEMA_VERSION = 2

/** Kinds of interned names. */
export const kStream = 0
export const kModule = 1
export const kCore = 2

const kDdl = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS names (
  id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, name TEXT NOT NULL, UNIQUE (kind, name)
);
-- Applied through lsn, per module: records of one module arrive in lsn order (the runtime's
-- default 'module' ordering), so anything at or below it is a redelivery and is skipped.
CREATE TABLE IF NOT EXISTS applied (module INTEGER PRIMARY KEY, lsn INTEGER NOT NULL);
-- Sparse record index: one row per run (see kRunSpanUs), not per record; the query reads the
-- run's lsns from the log and filters exactly.
CREATE TABLE IF NOT EXISTS record_runs (
  min_ts INTEGER NOT NULL, first_lsn INTEGER NOT NULL, last_lsn INTEGER NOT NULL,
  max_ts INTEGER NOT NULL, count INTEGER NOT NULL,
  stream INTEGER NOT NULL, module INTEGER NOT NULL, core INTEGER NOT NULL,
  PRIMARY KEY (min_ts, first_lsn)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS record_runs_lsn ON record_runs (last_lsn);
CREATE TABLE IF NOT EXISTS series (
  id INTEGER PRIMARY KEY, stream INTEGER NOT NULL, module INTEGER NOT NULL, field TEXT NOT NULL,
  last REAL, last_ts INTEGER, last_lsn INTEGER,
  UNIQUE (stream, module, field)
);
CREATE TABLE IF NOT EXISTS points (
  series INTEGER NOT NULL, ts INTEGER NOT NULL, lsn INTEGER NOT NULL, value REAL NOT NULL,
  PRIMARY KEY (series, ts, lsn)
) WITHOUT ROWID;
-- The 1 min rollup in columns, the 1 s rollup in cells (chunk.ts). cells is last so that
-- reading the minute totals never touches its overflow pages.
CREATE TABLE IF NOT EXISTS rollup (
  series INTEGER NOT NULL, minute INTEGER NOT NULL,
  count INTEGER NOT NULL, min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL,
  last REAL NOT NULL, last_ts INTEGER NOT NULL, last_lsn INTEGER NOT NULL,
  max_lsn INTEGER NOT NULL, cells BLOB NOT NULL,
  PRIMARY KEY (series, minute)
) WITHOUT ROWID;
`

export interface OpenOptions {
  readOnly?: boolean
  synchronous?: 'normal' | 'full'
}

/** Open (and for a writer, create or check) the index file. */
export function openDatabase(path: string, options: OpenOptions = {}): DatabaseSync {
  if (!options.readOnly) mkdirSync(dirname(path), { recursive: true })
  const db = new DatabaseSync(path, { readOnly: options.readOnly === true })
  try {
    // Writers from several worker threads (concurrency > 1) and a rebuild queue on the lock.
    db.exec('PRAGMA busy_timeout = 10000')
    if (options.readOnly) {
      checkVersion(db, path)
      return db
    }
    // 16 KiB pages (new files; an existing file keeps its size): a full rollup chunk (~3.9 KB)
    // then fits its leaf page instead of spilling into an overflow page that every rewrite frees
    // and reallocates. Set before WAL mode, which fixes the page size of a new file.
    db.exec('PRAGMA page_size = 16384')
    db.exec('PRAGMA journal_mode = WAL')
    // Checkpoint every 2,500 pages (40 MB of WAL at 16 KiB, 4 MB by default): the chunks that
    // consecutive batches rewrite are copied into the file once per checkpoint, not once each.
    db.exec('PRAGMA wal_autocheckpoint = 2500')
    // 64 MiB page cache: series and index b-trees are written at many points at once.
    db.exec('PRAGMA cache_size = -65536')
    db.exec(`PRAGMA synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`)
    db.exec('BEGIN IMMEDIATE')
    try {
      const hasMeta = db.prepare("SELECT 1 FROM sqlite_schema WHERE name = 'meta'").get() !== undefined
      const version = hasMeta ? versionOf(db) : SCHEMA_VERSION
      // Any other version is refused before this version's tables are added to the file.
      if (hasMeta && version !== 1) checkVersion(db, path)
      db.exec(kDdl)
      if (version === 1) migrateV1(db)
      db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run('schema', SCHEMA_VERSION)
      db.exec('COMMIT')
    } catch (err) {
      db.exec('ROLLBACK')
      throw err
    }
    checkVersion(db, path)
    return db
  } catch (err) {
    db.close()
    throw err
  }
}

const versionOf = (db: DatabaseSync) =>
  (db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: number } | undefined)?.value

function checkVersion(db: DatabaseSync, path: string): void {
  const version = versionOf(db)
  if (version === undefined) throw new MI_ERR_INDEX_SCHEMA(path, 'not an index file (no schema version)')
  if (version !== SCHEMA_VERSION)
    throw new MI_ERR_INDEX_SCHEMA(path, `schema version ${version}, this build reads ${SCHEMA_VERSION}`)
}
