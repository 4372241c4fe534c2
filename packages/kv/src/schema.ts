/**
 * The SQLite file: schema, pragmas, opening. One writer connection (the `kv` subscriber) and any
 * number of read-only connections (the HTTP read API), which WAL lets read while the writer writes.
 *
 * The file plus `meta.applied_lsn` is the snapshot: every table changes in the same transaction
 * as the applied lsn, so after any crash the file is exactly "the log applied through that lsn".
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { MI_ERR_KV_SCHEMA } from './errors.ts'

export const SCHEMA_VERSION = 1

const kDdl = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
-- Live keys. rev = the lsn that last wrote the key; expires = ms since epoch (server clock) or NULL.
CREATE TABLE IF NOT EXISTS kv (
  ns TEXT NOT NULL, key TEXT NOT NULL, type TEXT NOT NULL, value TEXT NOT NULL,
  rev INTEGER NOT NULL, created INTEGER NOT NULL, expires INTEGER,
  PRIMARY KEY (ns, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_expires ON kv (expires) WHERE expires IS NOT NULL;
-- Applied writes per key (newest historyPerKey kept); op 'del' has type/value NULL.
CREATE TABLE IF NOT EXISTS history (
  ns TEXT NOT NULL, key TEXT NOT NULL, lsn INTEGER NOT NULL, op TEXT NOT NULL,
  type TEXT, value TEXT, expires INTEGER, ts INTEGER NOT NULL,
  PRIMARY KEY (ns, key, lsn)
) WITHOUT ROWID;
-- One row per transaction (first lsn .. last lsn): how the writer learns what happened.
CREATE TABLE IF NOT EXISTS outcomes (
  lsn INTEGER PRIMARY KEY, last_lsn INTEGER NOT NULL, ns TEXT NOT NULL, module TEXT NOT NULL,
  seq TEXT NOT NULL, ops INTEGER NOT NULL, ok INTEGER NOT NULL,
  code TEXT, idx INTEGER, message TEXT
);
CREATE INDEX IF NOT EXISTS outcomes_seq ON outcomes (module, seq);
-- The delivered head of a transaction whose tail is in a later delivery.
CREATE TABLE IF NOT EXISTS pending (
  lsn INTEGER PRIMARY KEY, stream TEXT NOT NULL, module TEXT NOT NULL, core TEXT NOT NULL,
  seq TEXT NOT NULL, rts INTEGER NOT NULL, body BLOB NOT NULL
);
`

export interface OpenOptions {
  readOnly?: boolean
  synchronous?: 'normal' | 'full'
}

export function openDatabase(path: string, options: OpenOptions = {}): DatabaseSync {
  if (!options.readOnly) mkdirSync(dirname(path), { recursive: true })
  let db: DatabaseSync
  try {
    db = new DatabaseSync(path, { readOnly: options.readOnly ?? false, timeout: 5000 })
  } catch (err) {
    throw new MI_ERR_KV_SCHEMA(path, (err as Error).message, { cause: err })
  }
  try {
    if (options.readOnly) {
      const v = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as
        | { value: number }
        | undefined
      if (v && v.value !== SCHEMA_VERSION)
        throw new Error(`schema version ${v.value}, expected ${SCHEMA_VERSION}`)
      return db
    }
    db.exec('PRAGMA journal_mode = WAL')
    // NORMAL in WAL mode: a power loss may lose the last transactions, never corrupt; the lost
    // ones are in the log (durable before ACK) above the applied lsn, so replay restores them.
    db.exec(`PRAGMA synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`)
    db.exec(kDdl)
    const v = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: number } | undefined
    if (v === undefined) db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(SCHEMA_VERSION)
    else if (v.value !== SCHEMA_VERSION)
      throw new Error(`schema version ${v.value}, this build reads ${SCHEMA_VERSION}`)
    return db
  } catch (err) {
    db.close()
    if (err instanceof MI_ERR_KV_SCHEMA) throw err
    throw new MI_ERR_KV_SCHEMA(path, (err as Error).message, { cause: err })
  }
}
