/**
 * The read side: a read-only connection to the store file (WAL lets it read while the subscriber
 * writes). Expired keys are hidden using the server's wall clock (`now`, ms).
 */
import { existsSync } from 'node:fs'
import type { DatabaseSync, StatementSync } from 'node:sqlite'
import { type KvType, type KvValue, valueFromText } from '@module-ingest/kv-protocol'
import { type Outcome, type OutcomeRow, outcomeOf } from './outcomes.ts'
import { openDatabase } from './schema.ts'

export type { Outcome } from './outcomes.ts'

export interface KvEntry {
  ns: string
  key: string
  type: KvType
  value: KvValue['value']
  /** The lsn that last wrote the key. */
  revision: number
  /** The lsn that created it (since its last delete or expiry). */
  created: number
  /** ms since epoch, or null. */
  expiresAt: number | null
}

export interface HistoryEntry {
  lsn: number
  op: string
  type: KvType | null
  value: KvValue['value'] | null
  expiresAt: number | null
  /** Server receive time of the write, ms. */
  ts: number
}

/** A live key as stored: its value in stored text form (see kv-protocol `valueText`). */
export interface StoredKey {
  type: KvType
  text: string
  revision: number
  created: number
  expiresAt: number | null
  appliedLsn: number
}

type Raw = Record<string, unknown>

export class KvReader {
  readonly path: string
  #db: DatabaseSync | undefined
  #s: Record<string, StatementSync> = {}

  constructor(path: string) {
    this.path = path
  }

  /** False until the subscriber has created the file. */
  get ready(): boolean {
    return this.#open() !== undefined
  }

  #open(): DatabaseSync | undefined {
    if (this.#db) return this.#db
    if (!existsSync(this.path)) return undefined
    let db: DatabaseSync
    try {
      db = openDatabase(this.path, { readOnly: true })
    } catch {
      return undefined // created but not yet initialised by the writer
    }
    try {
      this.#s = {
        applied: db.prepare("SELECT value FROM meta WHERE key = 'applied_lsn'"),
        // slot -1 is the live key (schema.ts).
        get: db.prepare(`SELECT type, value, rev, created, expires FROM kv
          WHERE ns = ? AND key = ? AND slot = -1 AND (expires IS NULL OR expires > ?)`),
        // The key and the applied lsn in one statement: one read snapshot, one call per get.
        getApplied: db.prepare(`SELECT m.value AS applied, k.type, k.value, k.rev, k.created, k.expires
          FROM meta m LEFT JOIN kv k ON k.ns = ? AND k.key = ? AND k.slot = -1
            AND (k.expires IS NULL OR k.expires > ?)
          WHERE m.key = 'applied_lsn'`),
        // kv_live: only live rows, so a page of keys never wades through history (schema.ts).
        keys: db.prepare(`SELECT key, type, rev, expires FROM kv INDEXED BY kv_live
          WHERE ns = ? AND key > ? AND key >= ? AND key < ? AND slot = -1
          AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?`),
        // The chain of the key's history rows from its newest (its row's rev), historyPerKey long.
        history: db.prepare(`WITH RECURSIVE c (lsn, n) AS (
            SELECT rev, 1 FROM kv WHERE ns = ?1 AND key = ?2 AND slot IN (-1, -2)
            UNION ALL SELECT h.prev, c.n + 1 FROM c JOIN hist h ON h.lsn = c.lsn
              WHERE h.prev IS NOT NULL AND c.n < (SELECT value FROM meta WHERE key = 'history_per_key'))
          SELECT h.lsn, h.op, h.type, h.value, h.expires, h.ts FROM c JOIN hist h ON h.lsn = c.lsn
          WHERE h.lsn < ?3 ORDER BY h.lsn DESC LIMIT ?4`),
        // The newest row starting at or before lsn (a seek; `last_lsn >= ?` in SQL would scan
        // every older outcome), then: does it reach lsn? (outcomes.ts: a row may be a run.)
        outcome: db.prepare('SELECT * FROM outcomes WHERE lsn <= ? ORDER BY lsn DESC LIMIT 1'),
        // Likewise by seq: an integer seq may be inside a run; a text one (past 2^63-1) is not.
        outcomeSeq: db.prepare(
          'SELECT * FROM outcomes WHERE module = ? AND seq <= ? ORDER BY seq DESC LIMIT 1',
        ),
        outcomeSeqText: db.prepare('SELECT * FROM outcomes WHERE module = ? AND seq = ?'),
      }
      for (const k of ['outcome', 'outcomeSeq', 'outcomeSeqText']) this.#s[k]!.setReadBigInts(true)
    } catch {
      // The writer has created the file but not the tables yet.
      db.close()
      return undefined
    }
    this.#db = db
    return db
  }

  appliedLsn(): number {
    if (!this.#open()) return 0
    const row = this.#s.applied!.get() as { value: number } | undefined
    return row ? Number(row.value) : 0
  }

  get(ns: string, key: string, nowMs = Date.now()): KvEntry | undefined {
    if (!this.#open()) return undefined
    const r = this.#s.get!.get(ns, key, nowMs) as Raw | undefined
    if (!r) return undefined
    const type = r.type as KvType
    return {
      ns,
      key,
      type,
      value: valueFromText(type, String(r.value)).value,
      revision: Number(r.rev),
      created: Number(r.created),
      expiresAt: r.expires === null ? null : Number(r.expires),
    }
  }

  /**
   * The stored row of a live key with the applied lsn, as read together (the HTTP fast path
   * builds its reply from the stored text without decoding it). undefined: no such key (or the
   * store has applied nothing yet).
   */
  getStored(ns: string, key: string, nowMs = Date.now()): StoredKey | undefined {
    if (!this.#open()) return undefined
    const r = this.#s.getApplied!.get(ns, key, nowMs) as Raw | undefined
    if (!r || r.type === null) return undefined
    return {
      type: r.type as KvType,
      text: String(r.value),
      revision: Number(r.rev),
      created: Number(r.created),
      expiresAt: r.expires === null ? null : Number(r.expires),
      appliedLsn: Number(r.applied),
    }
  }

  /** Keys in order, after `after`, starting with `prefix`; `next` when there may be more. */
  keys(
    ns: string,
    o: { prefix?: string; after?: string; limit: number },
    nowMs = Date.now(),
  ): {
    keys: Array<{ key: string; type: KvType; revision: number; expiresAt: number | null }>
    next?: string
  } {
    if (!this.#open()) return { keys: [] }
    const prefix = o.prefix ?? ''
    // Keys starting with prefix: prefix <= key < prefix + U+10FFFF.
    const rows = this.#s.keys!.all(
      ns,
      o.after ?? '',
      prefix,
      `${prefix}\u{10FFFF}`,
      nowMs,
      o.limit + 1,
    ) as Raw[]
    const keys = rows.slice(0, o.limit).map((r) => ({
      key: String(r.key),
      type: r.type as KvType,
      revision: Number(r.rev),
      expiresAt: r.expires === null ? null : Number(r.expires),
    }))
    return rows.length > o.limit ? { keys, next: keys.at(-1)!.key } : { keys }
  }

  /** Newest first, before lsn `before`. */
  history(ns: string, key: string, o: { limit: number; before?: number }): HistoryEntry[] {
    if (!this.#open()) return []
    const rows = this.#s.history!.all(ns, key, o.before ?? Number.MAX_SAFE_INTEGER, o.limit) as Raw[]
    return rows.map((r) => ({
      lsn: Number(r.lsn),
      op: String(r.op),
      type: (r.type as KvType | null) ?? null,
      value: r.type === null ? null : valueFromText(r.type as KvType, String(r.value)).value,
      expiresAt: r.expires === null ? null : Number(r.expires),
      ts: Number(r.ts),
    }))
  }

  /** The outcome of the transaction holding `lsn`, or of (module, seq). */
  outcome(q: { lsn: number } | { module: string; seq: string }): Outcome | undefined {
    if (!this.#open()) return undefined
    if ('lsn' in q) {
      const r = this.#s.outcome!.get(q.lsn) as OutcomeRow | undefined
      return r && outcomeOf(r, q)
    }
    if (!/^\d{1,20}$/.test(q.seq)) return undefined
    const seq = BigInt(q.seq)
    const r = (
      seq < 2n ** 63n ? this.#s.outcomeSeq!.get(q.module, seq) : this.#s.outcomeSeqText!.get(q.module, q.seq)
    ) as OutcomeRow | undefined
    return r && outcomeOf(r, { seq: seq < 2n ** 63n ? seq : q.seq })
  }

  /**
   * A consistent copy of the store to `dest` (SQLite `VACUUM INTO`, safe while the subscriber
   * writes): a snapshot, whose `applied_lsn` is inside. Returns that lsn.
   */
  snapshot(dest: string): number {
    const db = this.#open()
    if (!db) throw new Error(`kv store ${this.path} does not exist yet`)
    // VACUUM INTO copies one consistent read snapshot; the lsn is read from the copy itself.
    db.prepare('VACUUM INTO ?').run(dest)
    const copy = openDatabase(dest, { readOnly: true })
    try {
      const row = copy.prepare("SELECT value FROM meta WHERE key = 'applied_lsn'").get() as
        | { value: number }
        | undefined
      return row ? Number(row.value) : 0
    } finally {
      copy.close()
    }
  }

  close(): void {
    if (this.#db?.isOpen) this.#db.close()
    this.#db = undefined
  }
}
