/**
 * The materializer: applies kv records in lsn order to the SQLite file, each delivery in one
 * SQLite transaction together with the applied lsn (so redelivery, at least once, is a no-op).
 *
 * Transactions: the records of one MIP/1 BATCH share (module, core, seq) and are contiguous in the
 * log, so a run of records with the same identity is one transaction. Each op carries `txn`, the
 * size of its batch; a run cut short by the end of a delivery is kept in `pending` (inside the same
 * SQLite transaction) until its tail arrives. A transaction applies whole inside a SAVEPOINT or
 * not at all; either way one `outcomes` row records what happened.
 *
 * Cost: a set without an expected revision is one statement from JS: an upsert (no read first)
 * whose trigger appends the history row (to hist, schema.ts; #clean deletes what falls out of the
 * kept history). Its outcome joins the open run of its producer's writes (one row per run,
 * outcomes.ts); a single-op transaction needs no savepoint. The body is decoded once. The delivery
 * is one SQLite transaction, so its fsync is shared by all its records.
 *
 * Time: TTL expiry = the write record's `rts` (server receive time) + ttlMs. While applying, "now"
 * is the record's rts, so applying is a pure function of the log (replay gives the same file).
 * Reads compare against the server's wall clock; the sweep deletes keys expired by the log clock
 * (the newest applied rts), which is never ahead of what reads already hide.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite'
import {
  checkSize,
  type DecodedOp,
  decodeOp,
  type KvType,
  kLimits,
  MI_ERR_KV_WRONG_TYPE,
  namespaceOf,
  valueText,
} from '@module-ingest/kv-protocol'
import { MI_ERR_KV_REVISION_MISMATCH, MI_ERR_KV_TXN_INCOMPLETE } from './errors.ts'
import { OutcomeWriter } from './outcomes.ts'
import { mergePatch } from './patch.ts'
import { checkpointPages, openDatabase, writerStatements } from './schema.ts'

/** The part of a log record the store reads (a log `StoredRecord` or SDK `SubscriberRecord` fits). */
export interface KvRecord {
  lsn: number
  stream: string
  module: string
  core: string
  seq: bigint
  /** Server receive time, µs. */
  rts: number
  body: Uint8Array
}

export interface KvStoreOptions {
  /** Most bytes of a stored value's text form. Default 1 MiB. */
  maxValueBytes?: number
  /** Writes kept per key in `history`. Default 10; 0 = no history. */
  historyPerKey?: number
  /** Outcome rows kept (outcomes.ts). Default 100000. */
  outcomesKept?: number
  /** Log-clock ms between sweeps of expired keys. Default 1000. */
  sweepIntervalMs?: number
  /** SQLite `synchronous`; default 'full' (see schema.ts). */
  synchronous?: 'normal' | 'full'
}

export interface ApplyResult {
  /** Transactions applied / rejected by this call. */
  committed: number
  rejected: number
  /** Records at or below the applied lsn (redelivery). */
  skipped: number
  /** Keys removed by the sweep. */
  swept: number
  appliedLsn: number
}

interface Row {
  type: KvType
  value: string
  rev: number
  created: number
  expires: number | null
  hseq: number
}

type Coded = Error & { code?: string }

/** Records of one MIP/1 frame: the same writer identity. */
const sameFrame = (a: KvRecord, b: KvRecord) => a.seq === b.seq && a.module === b.module && a.core === b.core

function decode(r: KvRecord): DecodedOp | Coded {
  try {
    return decodeOp(r.body)
  } catch (err) {
    return err as Coded
  }
}

export class KvStore {
  readonly db: DatabaseSync
  readonly path: string
  #o: Required<Omit<KvStoreOptions, 'synchronous'>>
  #s: Record<string, StatementSync>
  #outcomes: OutcomeWriter
  #nsCache = new Map<string, string | undefined>()
  #checkpoint = checkpointPages(0)
  #applies = 0

  constructor(path: string, options: KvStoreOptions = {}) {
    this.path = path
    const historyPerKey = options.historyPerKey ?? 10
    this.db = openDatabase(path, { synchronous: options.synchronous ?? 'full', historyPerKey })
    this.#o = {
      maxValueBytes: options.maxValueBytes ?? kLimits.valueBytes,
      historyPerKey,
      outcomesKept: options.outcomesKept ?? 100_000,
      sweepIntervalMs: options.sweepIntervalMs ?? 1000,
    }
    this.#s = writerStatements(this.db, historyPerKey)
    this.#outcomes = new OutcomeWriter(this.#s.outcome!, this.#s.outcomeLast!)
    this.#sizeCheckpoint()
  }

  /** The WAL's checkpoint interval for the file's size now (schema.ts checkpointPages). */
  #sizeCheckpoint(): void {
    const want = checkpointPages(Number((this.#s.pageCount!.get() as { page_count: number }).page_count))
    if (want === this.#checkpoint) return
    this.db.exec(`PRAGMA wal_autocheckpoint = ${want}`)
    this.#checkpoint = want
  }

  #meta(key: string, dflt: number): number {
    const row = this.#s.meta!.get(key) as { value: number } | undefined
    return row ? Number(row.value) : dflt
  }

  appliedLsn(): number {
    return this.#meta('applied_lsn', 0)
  }

  /** Apply delivered records (lsn ascending) atomically with the applied lsn. */
  apply(records: readonly KvRecord[]): ApplyResult {
    const out: ApplyResult = { committed: 0, rejected: 0, skipped: 0, swept: 0, appliedLsn: 0 }
    const s = this.#s
    // IMMEDIATE: take the write lock before reading the applied lsn (a second writer — a replaced
    // worker still finishing — cannot apply the same records between our read and our commit).
    this.db.exec('BEGIN IMMEDIATE')
    try {
      let applied = this.appliedLsn()
      let clock = this.#meta('clock_ms', 0)
      // The pending head (if any) and the new records, as one stream of kv records.
      const recs: KvRecord[] = (s.pendingAll!.all() as Array<Record<string, unknown>>).map((p) => ({
        lsn: Number(p.lsn),
        stream: String(p.stream),
        module: String(p.module),
        core: String(p.core),
        seq: BigInt(String(p.seq)),
        rts: Number(p.rts),
        body: p.body as Uint8Array,
      }))
      const held = recs.length
      let pended = false
      this.#outcomes.resume()
      for (const r of records) {
        if (r.lsn <= applied) {
          out.skipped++
          continue
        }
        applied = r.lsn
        if (this.#ns(r.stream) !== undefined) recs.push(r)
      }
      let i = 0
      while (i < recs.length) {
        const head = recs[i]!
        let j = i + 1
        while (j < recs.length && sameFrame(recs[j]!, head)) j++
        const run = recs.slice(i, j)
        // Each record decoded once; the first op that decodes says how many the transaction holds.
        const decoded = run.map(decode)
        const first = decoded.find((d) => !(d instanceof Error)) as DecodedOp | undefined
        const want = first?.txn ?? 1
        // The run reaches the end of what was delivered and is shorter than its batch: its tail
        // is still to come (the log holds a BATCH whole or not at all).
        if (j === recs.length && run.length < want) {
          // A big transaction may wait through several deliveries: what is held stays held.
          pended = true
          const keep = i === 0 ? held : 0
          if (keep === 0 && held > 0) s.pendingClear!.run()
          for (const r of run.slice(keep))
            s.pendingAdd!.run(r.lsn, r.stream, r.module, r.core, String(r.seq), r.rts, r.body)
          break
        }
        clock = Math.max(clock, Math.floor(run.at(-1)!.rts / 1000))
        if (this.#applyTxn(run, decoded, want)) out.committed++
        else out.rejected++
        i = j
      }
      this.#outcomes.flush()
      if (this.#o.historyPerKey > 0 && recs.length > 0) this.#clean(recs[0]!.lsn)
      if (held > 0 && !pended) s.pendingClear!.run()
      s.setMeta!.run('applied_lsn', applied)
      s.setMeta!.run('clock_ms', clock)
      const lastSweep = this.#meta('sweep_ms', 0)
      if (clock - lastSweep >= this.#o.sweepIntervalMs) {
        if (this.#o.historyPerKey > 0) s.sweepGone!.run(clock)
        out.swept = Number(s.sweep!.run(clock).changes)
        s.setMeta!.run('sweep_ms', clock)
        s.outcomesPrune!.run(this.#o.outcomesKept)
      }
      this.db.exec('COMMIT')
      if (++this.#applies % 64 === 0) this.#sizeCheckpoint()
      out.appliedLsn = applied
      return out
    } catch (err) {
      this.#outcomes.drop()
      this.db.exec('ROLLBACK')
      throw err
    }
  }

  /**
   * The history cleaner: each delivery passes over the next 2 × `dropped` rows of hist (in lsn
   * order, starting again from the oldest at the end) and deletes those that are no longer among
   * their key's newest historyPerKey, where `dropped` = the history rows this delivery wrote with
   * hseq > historyPerKey: each such write pushed exactly one older row of its key out of the kept
   * history. Passing twice as fast as garbage is made keeps hist at about twice the history kept
   * (a pass over hist's S rows takes S / 2g deliveries and meets the S / 2 garbage rows made
   * meanwhile); the deletes are in lsn order, so they dirty few pages. A delivery that pushed
   * nothing out (keys with fewer than historyPerKey writes: 1M keys each written a few times)
   * probes nothing; each probe is a descent of the keys' B-tree (~1 µs at 1M keys, two per set
   * when paced by the rows written). What it deletes is never read (schema.ts), so where
   * deliveries were cut does not show.
   */
  #clean(firstLsn: number): void {
    const s = this.#s
    const dropped = Number((s.histDropped!.get(firstLsn) as { n: number }).n)
    if (dropped === 0) return
    const from = this.#meta('hist_cursor', 0)
    const end = s.cleanEnd!.get(from, 2 * dropped) as { lsn: number } | undefined
    s.clean!.run(from, end ? end.lsn : Number.MAX_SAFE_INTEGER)
    s.setMeta!.run('hist_cursor', end ? end.lsn : 0)
  }

  /** The namespace of a stream (cached: a delivery names few streams, thousands of times). */
  #ns(stream: string): string | undefined {
    if (this.#nsCache.has(stream)) return this.#nsCache.get(stream)
    const ns = namespaceOf(stream)
    if (this.#nsCache.size > 10_000) this.#nsCache.clear()
    this.#nsCache.set(stream, ns)
    return ns
  }

  /**
   * One transaction: all its ops or none; records the outcome. #applyOp throws a kv error only
   * before its first write, so a single op needs no savepoint (most writes are single sets).
   */
  #applyTxn(run: KvRecord[], decoded: Array<DecodedOp | Coded>, want: number): boolean {
    const head = run[0]!
    const ns = this.#ns(head.stream)!
    const savepoint = run.length > 1
    if (savepoint) this.db.exec('SAVEPOINT txn')
    try {
      if (run.length !== want)
        throw Object.assign(
          new MI_ERR_KV_TXN_INCOMPLETE(`the batch holds ${run.length} operations, its ops say ${want}`),
          { idx: 0 },
        )
      for (let k = 0; k < run.length; k++) {
        const d = decoded[k]!
        const r = run[k]!
        try {
          if (d instanceof Error) throw d
          if (d.txn !== want)
            throw new MI_ERR_KV_TXN_INCOMPLETE(`op ${k} says txn ${d.txn}, op 0 says ${want}`)
          const opNs = this.#ns(r.stream)
          if (opNs === undefined) throw new MI_ERR_KV_TXN_INCOMPLETE('not a kv stream')
          this.#applyOp(opNs, r, d)
        } catch (err) {
          throw Object.assign(err as Coded, { idx: k })
        }
      }
      if (savepoint) this.db.exec('RELEASE txn')
      this.#outcomes.ok(ns, head, run.at(-1)!.lsn, run.length)
      return true
    } catch (err) {
      if (savepoint) {
        this.db.exec('ROLLBACK TO txn')
        this.db.exec('RELEASE txn')
      }
      const e = err as Coded & { idx?: number }
      // Anything without a kv code is a bug or an I/O error: rethrow (the delivery is retried).
      if (typeof e.code !== 'string' || !e.code.startsWith('MI_ERR_KV_')) throw err
      this.#outcomes.rejected(ns, head, run.at(-1)!.lsn, run.length, e.code, e.idx ?? null, e.message)
      return false
    }
  }

  /**
   * A delete's history (a write of a value gets its history row from the trigger): the next write
   * number and chain of the key, from its row or (no row) its gone row; the key stays as gone.
   */
  #historyOfDelete(ns: string, key: string, r: KvRecord, row: Row | undefined): void {
    if (this.#o.historyPerKey === 0) return
    const s = this.#s
    const last = row ?? (s.gone!.get(ns, key) as { hseq: number; rev: number } | undefined)
    const hseq = last ? Number(last.hseq) + 1 : 1
    s.setGone!.run(ns, key, r.lsn, hseq)
    s.histDel!.run(r.lsn, ns, key, hseq, last ? Number(last.rev) : null, Math.floor(r.rts / 1000))
  }

  #applyOp(ns: string, r: KvRecord, d: DecodedOp): void {
    const s = this.#s
    const op = d.op
    const nowMs = Math.floor(r.rts / 1000)
    if (op.op === 'set' && op.rev === undefined) {
      // The common case, without a read first (see the `set` statement).
      const text = d.text ?? valueText(op.value)
      checkSize(text, this.#o.maxValueBytes)
      const expires = op.ttlMs !== undefined ? nowMs + op.ttlMs : null
      s.set!.run(ns, op.key, op.value.type, text, r.lsn, expires, nowMs)
      return
    }
    const row = s.get!.get(ns, op.key) as Row | undefined
    const cur = row && (row.expires === null || Number(row.expires) > nowMs) ? row : undefined
    if (op.rev !== undefined && op.rev !== (cur ? Number(cur.rev) : 0))
      throw new MI_ERR_KV_REVISION_MISMATCH(
        `key "${op.key}" is at revision ${cur ? Number(cur.rev) : 0}, the operation expected ${op.rev}`,
      )
    if (op.op === 'del') {
      s.del!.run(ns, op.key)
      this.#historyOfDelete(ns, op.key, r, row)
      return
    }
    let type: KvType
    let text: string
    let expires: number | null = op.ttlMs !== undefined ? nowMs + op.ttlMs : (cur?.expires ?? null)
    switch (op.op) {
      case 'set':
        type = op.value.type
        text = d.text ?? valueText(op.value)
        // SET replaces the value and its TTL (no TTL = never expires), as in Redis.
        expires = op.ttlMs !== undefined ? nowMs + op.ttlMs : null
        break
      case 'hset': {
        type = 'json'
        let obj: Record<string, unknown> = {}
        if (cur) {
          const v = cur.type === 'json' ? (JSON.parse(cur.value) as unknown) : undefined
          if (typeof v !== 'object' || v === null || Array.isArray(v))
            throw new MI_ERR_KV_WRONG_TYPE(`hset: key "${op.key}" holds ${describe(cur)}, not a JSON object`)
          obj = v as Record<string, unknown>
        }
        if (op.field !== undefined) {
          if (op.value === null) delete obj[op.field]
          else obj[op.field] = op.value
        } else obj = mergePatch(obj, op.value) as Record<string, unknown>
        text = JSON.stringify(obj)
        break
      }
      case 'lset': {
        type = 'list'
        let list: unknown[] = []
        if (!cur && op.action !== 'push' && op.action !== 'unshift')
          throw new MI_ERR_KV_WRONG_TYPE(`lset ${op.action}: key "${op.key}" holds no list`)
        if (cur) {
          if (cur.type !== 'list')
            throw new MI_ERR_KV_WRONG_TYPE(`lset: key "${op.key}" holds ${describe(cur)}, not a list`)
          list = JSON.parse(cur.value) as unknown[]
        }
        const at = (i: number) => {
          const k = i < 0 ? list.length + i : i
          if (k < 0 || k >= list.length)
            throw new MI_ERR_KV_WRONG_TYPE(`lset: index ${i} is out of range for a list of ${list.length}`)
          return k
        }
        if (op.action === 'push') list.push(op.value)
        else if (op.action === 'unshift') list.unshift(op.value)
        else if (op.action === 'pop') list.pop()
        else if (op.action === 'shift') list.shift()
        else if (op.action === 'set') list[at(op.index!)] = op.value
        else list.splice(at(op.index!), 1)
        text = JSON.stringify(list)
        break
      }
    }
    checkSize(text, this.#o.maxValueBytes)
    // The history row is the trigger's (schema.ts historyTriggers).
    s.put!.run(ns, op.key, type, text, r.lsn, cur ? Number(cur.created) : r.lsn, expires, op.op, nowMs)
  }

  /** Every table's rows in a canonical order (tests: snapshot + replay equals full replay). */
  dump(visibleAtMs?: number): Record<string, unknown[]> {
    const clock = visibleAtMs ?? this.#meta('clock_ms', 0)
    return {
      kv: this.db
        .prepare(`SELECT ns, key, type, value, rev, created, expires, hseq FROM kv
          WHERE slot = -1 AND (expires IS NULL OR expires > ?) ORDER BY ns, key`)
        .all(clock),
      // The history reads can see (what the cleaner has not deleted yet is not part of it).
      history: this.db
        .prepare(`SELECT h.ns, h.key, h.hseq, h.lsn, h.prev, h.op, h.type, h.value, h.expires, h.ts
          FROM hist h JOIN kv k ON k.ns = h.ns AND k.key = h.key AND k.slot IN (-1, -2)
          WHERE h.hseq > k.hseq - ? ORDER BY h.ns, h.key, h.lsn`)
        .all(this.#o.historyPerKey),
      outcomes: this.db.prepare('SELECT * FROM outcomes ORDER BY lsn').all(),
      pending: this.db.prepare('SELECT lsn FROM pending ORDER BY lsn').all(),
      applied: [this.appliedLsn()],
    }
  }

  close(): void {
    if (this.db.isOpen) this.db.close()
  }
}

function describe(row: Row): string {
  return row.type === 'json' ? 'a JSON value that is not an object' : `a ${row.type}`
}
