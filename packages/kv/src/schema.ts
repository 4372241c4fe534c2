/**
 * The SQLite file: schema, pragmas, opening. One writer connection (the `kv` subscriber) and any
 * number of read-only connections (the HTTP read API), which WAL lets read while the writer writes.
 *
 * The file plus `meta.applied_lsn` is the snapshot: every table changes in the same transaction
 * as the applied lsn, so after any crash the file is exactly "the log applied through that lsn".
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { MI_ERR_KV_SCHEMA } from './errors.ts'

export const SCHEMA_VERSION = 3

// One row per transaction (first lsn .. last lsn), or per run of single-op writes (outcomes.ts):
// how the writer learns what happened. seq has no type: an integer, or text past 2^63-1.
const kOutcomesDdl = `CREATE TABLE IF NOT EXISTS outcomes (
  lsn INTEGER PRIMARY KEY, last_lsn INTEGER NOT NULL, ns TEXT NOT NULL, module TEXT NOT NULL,
  seq NOT NULL, ops INTEGER NOT NULL, ok INTEGER NOT NULL,
  code TEXT, idx INTEGER, message TEXT
);
CREATE INDEX IF NOT EXISTS outcomes_seq ON outcomes (module, seq);`

const kDdl = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
-- Keys and their history in one B-tree, so that a write dirties one page, not two (at a million
-- keys a set costs mostly the pages it dirties, each written to the WAL and again at checkpoint).
-- slot -1: the live key. rev = the lsn that last wrote it; created = the lsn that created it;
--   expires = ms since epoch (server clock) or NULL; hseq = the number of writes to it so far;
--   op, ts = its last write's op and time (what the history trigger copies, see historyTriggers).
-- slot 0..historyPerKey-1: its applied writes, a ring: write number hseq goes to slot
--   hseq % historyPerKey, replacing the one historyPerKey writes before it (no prune).
--   rev = the write's lsn; op, ts = the write's op and time; type/value NULL for 'del'.
CREATE TABLE IF NOT EXISTS kv (
  ns TEXT NOT NULL, key TEXT NOT NULL, slot INTEGER NOT NULL,
  type TEXT, value TEXT, rev INTEGER NOT NULL, created INTEGER, expires INTEGER,
  hseq INTEGER NOT NULL, op TEXT, ts INTEGER,
  PRIMARY KEY (ns, key, slot)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_expires ON kv (expires) WHERE expires IS NOT NULL AND slot = -1;
-- Listing keys walks live rows only, however much history (of deleted keys too) lies between them.
-- Written when a key is created or deleted, not when it is overwritten.
CREATE INDEX IF NOT EXISTS kv_live ON kv (ns, key) WHERE slot = -1;
${kOutcomesDdl}
-- The delivered head of a transaction whose tail is in a later delivery.
CREATE TABLE IF NOT EXISTS pending (
  lsn INTEGER PRIMARY KEY, stream TEXT NOT NULL, module TEXT NOT NULL, core TEXT NOT NULL,
  seq TEXT NOT NULL, rts INTEGER NOT NULL, body BLOB NOT NULL
);
`

export interface OpenOptions {
  readOnly?: boolean
  synchronous?: 'normal' | 'full'
  /** The writer's history ring size; a file written with another size is re-slotted on open. */
  historyPerKey?: number
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
    // Both sides touch random keys: a 64 MiB page cache keeps a million-key store's interior
    // pages (and most leaves) in memory instead of re-reading them through the OS every write.
    db.exec('PRAGMA cache_size = -65536')
    if (options.readOnly) {
      const v = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as
        | { value: number }
        | undefined
      if (v && v.value !== SCHEMA_VERSION)
        throw new Error(`schema version ${v.value}, expected ${SCHEMA_VERSION}`)
      return db
    }
    db.exec('PRAGMA journal_mode = WAL')
    // FULL (the default) fsyncs each delivery's commit. NORMAL would be enough if the log were
    // replayed from applied_lsn on start, but the runtime resumes from the group's committed
    // offset, which it commits after handle() returns: after a power loss a NORMAL store could be
    // behind that offset and the writes between would never be applied. One fsync per delivery
    // (thousands of sets) costs little CPU; see docs/kv.md "Durability".
    db.exec(`PRAGMA synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`)
    // A delivery of thousands of sets dirties most pages of a small store; checkpointing after
    // every such commit (the default: past 1000 WAL pages) copies each of them back to the file
    // every time. Checkpoint every ~40 MiB of WAL instead: a page rewritten by many deliveries is
    // copied back once (10k keys: about -1.5 µs of CPU, mostly write syscalls, per set).
    db.exec('PRAGMA wal_autocheckpoint = 10000')
    const history = options.historyPerKey ?? 10
    const v = version(db)
    if (v === 1) migrate1(db, history)
    if (v === 1 || v === 2) migrate2(db)
    else if (v !== undefined && v !== SCHEMA_VERSION)
      throw new Error(`schema version ${v}, this build reads ${SCHEMA_VERSION}`)
    db.exec(kDdl)
    if (v === undefined) {
      db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?), ('history_per_key', ?)").run(
        SCHEMA_VERSION,
        history,
      )
    }
    const ring = db.prepare("SELECT value FROM meta WHERE key = 'history_per_key'").get() as
      | { value: number }
      | undefined
    if (ring?.value !== history) reslot(db, history)
    return db
  } catch (err) {
    db.close()
    if (err instanceof MI_ERR_KV_SCHEMA) throw err
    throw new MI_ERR_KV_SCHEMA(path, (err as Error).message, { cause: err })
  }
}

function version(db: DatabaseSync): number | undefined {
  const t = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta'").get()
  if (!t) return undefined
  const v = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: number } | undefined
  return v === undefined ? undefined : Number(v.value)
}

/** Keep each key's newest `size` history rows and move them to slot hseq % size. */
function reslot(db: DatabaseSync, size: number): void {
  db.exec('BEGIN IMMEDIATE')
  try {
    db.exec(`DELETE FROM kv WHERE slot >= 0 AND hseq <= (SELECT max(h.hseq) FROM kv h
      WHERE h.ns = kv.ns AND h.key = kv.key AND h.slot >= 0) - ${size}`)
    // Through slots below -1: no row ever collides with one not yet moved, nor with a live key.
    db.exec(`UPDATE kv SET slot = -2 - hseq % ${Math.max(size, 1)} WHERE slot >= 0`)
    db.exec('UPDATE kv SET slot = -2 - slot WHERE slot < -1')
    db.prepare(
      "INSERT INTO meta (key, value) VALUES ('history_per_key', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ).run(size)
    db.exec('COMMIT')
  } catch (err) {
    db.exec('ROLLBACK')
    throw err
  }
}

/** Schema 1 (keys and history in two tables, history pruned per write) → 2. */
function migrate1(db: DatabaseSync, size: number): void {
  db.exec('BEGIN IMMEDIATE')
  try {
    db.exec(`DROP INDEX kv_expires;
      ALTER TABLE kv RENAME TO kv_v1;
      ${kDdl}
      INSERT INTO kv (ns, key, slot, type, value, rev, created, expires, hseq)
        SELECT ns, key, -1, type, value, rev, created, expires, 0 FROM kv_v1;
      INSERT INTO kv (ns, key, slot, hseq, rev, op, type, value, expires, ts)
        SELECT ns, key, n % ${Math.max(size, 1)}, n, lsn, op, type, value, expires, ts FROM (SELECT *,
          row_number() OVER (PARTITION BY ns, key ORDER BY lsn) AS n,
          count(*) OVER (PARTITION BY ns, key) AS c FROM history) WHERE n > c - ${size};
      UPDATE kv SET hseq = coalesce((SELECT max(h.hseq) FROM kv h
        WHERE h.ns = kv.ns AND h.key = kv.key AND h.slot >= 0), 0) WHERE slot = -1;
      DROP TABLE kv_v1;
      DROP TABLE history;
      UPDATE meta SET value = 2 WHERE key = 'schema';
      INSERT OR REPLACE INTO meta (key, value) VALUES ('history_per_key', ${size});`)
    db.exec('COMMIT')
  } catch (err) {
    db.exec('ROLLBACK')
    throw err
  }
}

/** Schema 2 (outcomes.seq as text, one row per transaction) → 3 (integer seq, runs). */
function migrate2(db: DatabaseSync): void {
  db.exec('BEGIN IMMEDIATE')
  try {
    db.exec(`DROP INDEX outcomes_seq;
      ALTER TABLE outcomes RENAME TO outcomes_v2;
      ${kOutcomesDdl}
      INSERT INTO outcomes SELECT lsn, last_lsn, ns, module,
        iif(length(seq) < 19 OR (length(seq) = 19 AND seq <= '9223372036854775807'), CAST(seq AS INTEGER), seq),
        ops, ok, code, idx, message FROM outcomes_v2;
      DROP TABLE outcomes_v2;
      UPDATE meta SET value = 3 WHERE key = 'schema';`)
    db.exec('COMMIT')
  } catch (err) {
    db.exec('ROLLBACK')
    throw err
  }
}

/**
 * History by trigger: a write to a live row (slot -1) that changes its hseq copies the row into
 * ring slot hseq % size, inside SQLite (one statement per set from JS, not two). A new row comes in
 * with hseq 0 and continues the numbering of the key's history (it may have been deleted before).
 * TEMP: per connection, with this writer's ring size; nothing in the file depends on it.
 */
function historyTriggers(db: DatabaseSync, size: number): void {
  db.exec(`CREATE TEMP TRIGGER IF NOT EXISTS kv_new AFTER INSERT ON main.kv
      WHEN NEW.slot = -1 AND NEW.hseq = 0 BEGIN
    UPDATE main.kv SET hseq = coalesce((SELECT max(h.hseq) FROM main.kv h
      WHERE h.ns = NEW.ns AND h.key = NEW.key AND h.slot >= 0), 0) + 1
      WHERE ns = NEW.ns AND key = NEW.key AND slot = -1;
  END;
  CREATE TEMP TRIGGER IF NOT EXISTS kv_history AFTER UPDATE OF hseq ON main.kv
      WHEN NEW.slot = -1 BEGIN
    INSERT INTO main.kv (ns, key, slot, hseq, rev, op, type, value, expires, ts)
      VALUES (NEW.ns, NEW.key, NEW.hseq % ${size}, NEW.hseq, NEW.rev, NEW.op, NEW.type, NEW.value,
        NEW.expires, NEW.ts)
      -- An upsert, not OR REPLACE: inside a trigger the outer statement's conflict policy wins.
      ON CONFLICT (ns, key, slot) DO UPDATE SET hseq = excluded.hseq, rev = excluded.rev,
        op = excluded.op, type = excluded.type, value = excluded.value, expires = excluded.expires,
        ts = excluded.ts;
  END;`)
}

/** The materializer's statements, prepared once per connection (store.ts uses them). */
export function writerStatements(db: DatabaseSync, historyPerKey: number): Record<string, StatementSync> {
  if (historyPerKey > 0) historyTriggers(db, historyPerKey)
  // A new live row: hseq 0 lets kv_new number it; without history there is nothing to continue.
  const fresh = historyPerKey > 0 ? 0 : 1
  return {
    meta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
    get: db.prepare(
      'SELECT type, value, rev, created, expires, hseq FROM kv WHERE ns = ? AND key = ? AND slot = -1',
    ),
    // A plain set needs nothing of the old row but its created lsn (kept unless the row had
    // expired by ts, the op's time) and its write count: one statement, no read first; the
    // history row is the trigger's (historyTriggers).
    set: db.prepare(`INSERT INTO kv (ns, key, slot, type, value, rev, created, expires, hseq, op, ts)
      VALUES (?1, ?2, -1, ?3, ?4, ?5, ?5, ?6, ${fresh}, 'set', ?7)
      ON CONFLICT (ns, key, slot) DO UPDATE SET type = excluded.type, value = excluded.value,
      rev = excluded.rev, created = iif(kv.expires <= excluded.ts, excluded.created, kv.created),
      expires = excluded.expires, hseq = kv.hseq + 1, op = excluded.op, ts = excluded.ts`),
    // Any other write of a value (hset, lset, set with an expected revision): created is the
    // caller's, who has read the row.
    put: db.prepare(`INSERT INTO kv (ns, key, slot, type, value, rev, created, expires, hseq, op, ts)
      VALUES (?1, ?2, -1, ?3, ?4, ?5, ?6, ?7, ${fresh}, ?8, ?9)
      ON CONFLICT (ns, key, slot) DO UPDATE SET type = excluded.type, value = excluded.value,
      rev = excluded.rev, created = excluded.created, expires = excluded.expires,
      hseq = kv.hseq + 1, op = excluded.op, ts = excluded.ts`),
    del: db.prepare('DELETE FROM kv WHERE ns = ? AND key = ? AND slot = -1'),
    lastHseq: db.prepare('SELECT max(hseq) AS n FROM kv WHERE ns = ? AND key = ? AND slot >= 0'),
    hist: db.prepare(`INSERT OR REPLACE INTO kv (ns, key, slot, hseq, rev, op, type, value, expires, ts)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    outcome: db.prepare(
      'INSERT OR REPLACE INTO outcomes (lsn, last_lsn, ns, module, seq, ops, ok, code, idx, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    outcomeLast: db.prepare('SELECT * FROM outcomes ORDER BY lsn DESC LIMIT 1'),
    outcomesPrune: db.prepare(
      'DELETE FROM outcomes WHERE lsn < (SELECT lsn FROM outcomes ORDER BY lsn DESC LIMIT 1 OFFSET ?)',
    ),
    pendingAll: db.prepare('SELECT lsn, stream, module, core, seq, rts, body FROM pending ORDER BY lsn'),
    pendingAdd: db.prepare(
      'INSERT OR REPLACE INTO pending (lsn, stream, module, core, seq, rts, body) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    pendingClear: db.prepare('DELETE FROM pending'),
    sweep: db.prepare('DELETE FROM kv WHERE slot = -1 AND expires IS NOT NULL AND expires <= ?'),
  }
}
