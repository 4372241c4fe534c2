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

export const SCHEMA_VERSION = 4

// One row per transaction (first lsn .. last lsn), or per run of single-op writes (outcomes.ts):
// how the writer learns what happened. seq has no type: an integer, or text past 2^63-1.
const kOutcomesDdl = `CREATE TABLE IF NOT EXISTS outcomes (
  lsn INTEGER PRIMARY KEY, last_lsn INTEGER NOT NULL, ns TEXT NOT NULL, module TEXT NOT NULL,
  seq NOT NULL, ops INTEGER NOT NULL, ok INTEGER NOT NULL,
  code TEXT, idx INTEGER, message TEXT
);
CREATE INDEX IF NOT EXISTS outcomes_seq ON outcomes (module, seq);`

// The kv table as schema 2 and 3 have it (migrate1 fills it, migrate3 moves its history out).
const kKvDdl = `CREATE TABLE IF NOT EXISTS kv (
  ns TEXT NOT NULL, key TEXT NOT NULL, slot INTEGER NOT NULL,
  type TEXT, value TEXT, rev INTEGER NOT NULL, created INTEGER, expires INTEGER,
  hseq INTEGER NOT NULL, op TEXT, ts INTEGER,
  PRIMARY KEY (ns, key, slot)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_expires ON kv (expires) WHERE expires IS NOT NULL AND slot = -1;
-- Listing keys walks live rows only. Written when a key is created or deleted, not overwritten.
CREATE INDEX IF NOT EXISTS kv_live ON kv (ns, key) WHERE slot = -1;`

const kDdl = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
-- slot -1: a live key. rev = the lsn that last wrote it; created = the lsn that created it;
--   expires = ms since epoch (server clock) or NULL; hseq = the number of writes to it so far;
--   op, ts = its last write's op and time.
-- slot -2: a key that is gone (deleted, or expired and swept) but has history: its hseq and, in
--   rev, the lsn of its newest history row, so a re-created key continues both.
${kKvDdl}
-- Every applied write of a key (history), appended in lsn order: a set adds a row at the end of
-- this B-tree instead of rewriting a ring slot inside the keys' B-tree, which kept that B-tree
-- historyPerKey+1 times larger than the keys (every delivery dirtied most of its pages at 10k
-- keys; at 200k+ keys most sets read a page from disk). prev = the key's previous history lsn:
-- a key's history is the chain from its row's rev, its newest historyPerKey writes being those
-- with hseq > the key's hseq - historyPerKey. Older rows are garbage, deleted by the cleaner
-- (store.ts) as it passes them, never read.
CREATE TABLE IF NOT EXISTS hist (
  lsn INTEGER PRIMARY KEY, ns TEXT NOT NULL, key TEXT NOT NULL, hseq INTEGER NOT NULL,
  prev INTEGER, op TEXT NOT NULL, type TEXT, value TEXT, expires INTEGER, ts INTEGER
);
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
  /** The writer's history size; a file written with another size is resized on open. */
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
    // copied back once (10k keys: about -1.5 µs of CPU, mostly write syscalls, per set). A large
    // store gets more (checkpointPages; the writer re-sizes it as the file grows).
    db.exec(`PRAGMA wal_autocheckpoint = ${checkpointPages(0)}`)
    const history = options.historyPerKey ?? 10
    const v = version(db)
    if (v === 1) migrate1(db, history)
    if (v === 1 || v === 2) migrate2(db)
    if (v === 1 || v === 2 || v === 3) migrate3(db)
    else if (v !== undefined && v !== SCHEMA_VERSION)
      throw new Error(`schema version ${v}, this build reads ${SCHEMA_VERSION}`)
    db.exec(kDdl)
    if (v === undefined) {
      db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?), ('history_per_key', ?)").run(
        SCHEMA_VERSION,
        history,
      )
    }
    const kept = db.prepare("SELECT value FROM meta WHERE key = 'history_per_key'").get() as
      | { value: number }
      | undefined
    if (kept?.value !== history) resize(db, history)
    return db
  } catch (err) {
    db.close()
    if (err instanceof MI_ERR_KV_SCHEMA) throw err
    throw new MI_ERR_KV_SCHEMA(path, (err as Error).message, { cause: err })
  }
}

/**
 * WAL pages between automatic checkpoints for a store file of `pages` pages: 10,000 (~40 MiB) up
 * to a file of 20,000 pages, then half the file, at most 100,000 (rounded to 1000, so a growing
 * file does not change it on every delivery). At a million keys each random set dirties a leaf of
 * its own and the checkpoint copies back nearly every page the WAL holds; over a longer interval
 * more of them were written twice and are copied once (1M keys, deliveries of 8500: 20.2–21.3 →
 * 18.5–19.0 µs of CPU per set at 22,500 pages; docs/kv.md). The WAL file grows to that size.
 */
export function checkpointPages(pages: number): number {
  return Math.min(100_000, Math.max(10_000, Math.round(pages / 2000) * 1000))
}

function version(db: DatabaseSync): number | undefined {
  const t = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta'").get()
  if (!t) return undefined
  const v = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: number } | undefined
  return v === undefined ? undefined : Number(v.value)
}

/**
 * A new history size: every row that is not among its key's newest `size` goes now (the cleaner
 * would find them later, but a larger size set before it did would bring them back).
 */
function resize(db: DatabaseSync, size: number): void {
  db.exec('BEGIN IMMEDIATE')
  try {
    // 0: no history at all; turned on again, it starts again.
    if (size === 0) db.exec('DELETE FROM hist; DELETE FROM kv WHERE slot = -2')
    db.exec(`DELETE FROM hist WHERE hseq <= coalesce((SELECT k.hseq FROM kv k
      WHERE k.ns = hist.ns AND k.key = hist.key AND k.slot IN (-1, -2)), hist.hseq) - ${size}`)
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
 * Schema 3 (history as ring slots 0.. beside each key's row in kv) → 4 (history appended to hist,
 * chained by prev; a gone key with history keeps a slot -2 row).
 */
function migrate3(db: DatabaseSync): void {
  db.exec('BEGIN IMMEDIATE')
  try {
    db.exec(`${kDdl}
      INSERT INTO hist (lsn, ns, key, hseq, prev, op, type, value, expires, ts)
        SELECT rev, ns, key, hseq, lag(rev) OVER (PARTITION BY ns, key ORDER BY hseq), op, type, value,
          expires, ts FROM kv WHERE slot >= 0;
      INSERT INTO kv (ns, key, slot, rev, hseq)
        SELECT ns, key, -2, max(rev), max(hseq) FROM kv h WHERE slot >= 0 AND NOT EXISTS (SELECT 1 FROM kv l
          WHERE l.ns = h.ns AND l.key = h.key AND l.slot = -1) GROUP BY ns, key;
      DELETE FROM kv WHERE slot >= 0;
      UPDATE meta SET value = 4 WHERE key = 'schema';`)
    db.exec('COMMIT')
  } catch (err) {
    db.exec('ROLLBACK')
    throw err
  }
}

/**
 * History by trigger: a write to a live row (slot -1) that changes its hseq appends the row to
 * hist, chained to the key's previous history row (one statement per set from JS). A new row comes
 * in with hseq 0 and continues the numbering and the chain of a gone key's row (slot -2), which it
 * replaces. TEMP: per connection; nothing in the file depends on it.
 */
function historyTriggers(db: DatabaseSync): void {
  db.exec(`CREATE TEMP TRIGGER IF NOT EXISTS kv_new AFTER INSERT ON main.kv
      WHEN NEW.slot = -1 AND NEW.hseq = 0 BEGIN
    UPDATE main.kv SET hseq = coalesce((SELECT g.hseq FROM main.kv g
      WHERE g.ns = NEW.ns AND g.key = NEW.key AND g.slot = -2), 0) + 1
      WHERE ns = NEW.ns AND key = NEW.key AND slot = -1;
    DELETE FROM main.kv WHERE ns = NEW.ns AND key = NEW.key AND slot = -2;
  END;
  CREATE TEMP TRIGGER IF NOT EXISTS kv_history AFTER UPDATE OF hseq ON main.kv
      WHEN NEW.slot = -1 BEGIN
    INSERT INTO main.hist (lsn, ns, key, hseq, prev, op, type, value, expires, ts)
      VALUES (NEW.rev, NEW.ns, NEW.key, NEW.hseq, iif(OLD.hseq = 0, (SELECT g.rev FROM main.kv g
        WHERE g.ns = NEW.ns AND g.key = NEW.key AND g.slot = -2), OLD.rev), NEW.op, NEW.type,
        NEW.value, NEW.expires, NEW.ts);
  END;`)
}

/** The materializer's statements, prepared once per connection (store.ts uses them). */
export function writerStatements(db: DatabaseSync, historyPerKey: number): Record<string, StatementSync> {
  if (historyPerKey > 0) historyTriggers(db)
  // A new live row: hseq 0 lets kv_new number it; without history there is nothing to continue.
  const fresh = historyPerKey > 0 ? 0 : 1
  return {
    meta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    pageCount: db.prepare('PRAGMA page_count'),
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
    // A delete's history: the gone key's row and its history row (a write of a value gets its
    // history row from the trigger).
    gone: db.prepare('SELECT hseq, rev FROM kv WHERE ns = ? AND key = ? AND slot = -2'),
    setGone: db.prepare(`INSERT INTO kv (ns, key, slot, rev, hseq) VALUES (?, ?, -2, ?, ?)
      ON CONFLICT (ns, key, slot) DO UPDATE SET rev = excluded.rev, hseq = excluded.hseq`),
    histDel: db.prepare(`INSERT INTO hist (lsn, ns, key, hseq, prev, op, ts)
      VALUES (?, ?, ?, ?, ?, 'del', ?)`),
    // History rows this delivery wrote (lsn >= its first record's) that pushed an older row of
    // their key out of the kept history (store.ts #clean): a scan of the delivery's own tail of hist.
    histDropped: db.prepare(
      `SELECT count(*) AS n FROM hist WHERE lsn >= ? AND hseq > ${Math.max(historyPerKey, 0)}`,
    ),
    // The cleaner: history rows lsn ?1..?2 that are not among their key's newest historyPerKey.
    cleanEnd: db.prepare('SELECT lsn FROM hist WHERE lsn >= ? ORDER BY lsn LIMIT 1 OFFSET ?'),
    clean: db.prepare(`DELETE FROM hist WHERE lsn >= ?1 AND lsn < ?2 AND hseq <= coalesce((SELECT k.hseq
      FROM kv k WHERE k.ns = hist.ns AND k.key = hist.key AND k.slot < 0), hseq) - ${historyPerKey}`),
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
    // An expired key's history stays reachable from a gone row (before the sweep deletes it).
    sweepGone: db.prepare(`INSERT INTO kv (ns, key, slot, rev, hseq) SELECT ns, key, -2, rev, hseq
      FROM kv WHERE slot = -1 AND expires IS NOT NULL AND expires <= ?
      ON CONFLICT (ns, key, slot) DO UPDATE SET rev = excluded.rev, hseq = excluded.hseq`),
    sweep: db.prepare('DELETE FROM kv WHERE slot = -1 AND expires IS NOT NULL AND expires <= ?'),
  }
}
