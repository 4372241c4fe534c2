/**
 * The write side: apply a batch of committed records in one transaction, together with the
 * per-module "applied through lsn" that makes redelivery (at-least-once) a no-op.
 *
 * Per batch, points are aggregated in memory into (series, minute) chunks (chunk.ts), merged with
 * the stored chunk and written once: one row write per series and minute touched, not per point or
 * per second. Written chunks stay in memory (a bounded cache) so that the next batch touching the
 * same minute (the current minute of every series, in real time) adds to them without reading and
 * merging the stored row again. Records become runs (one `record_runs` row per run of a module's records, schema.ts),
 * not a row each. A rollup never double-counts: a record at or below its module's applied lsn is
 * skipped before it reaches the aggregation, and the applied lsn commits with the rows.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite'
import { BulkInsert } from './bulk.ts'
import { Chunk, kChunkPut, kSecondUs, minuteOf, putChunk } from './chunk.ts'
import { compileFields, type FieldsReader } from './extract.ts'
import { RunBuilder } from './runs.ts'
import { kCore, kModule, kStream, openDatabase } from './schema.ts'

/** The part of a record the index reads (a log `StoredRecord` or SDK `SubscriberRecord` fits). */
export interface IndexableRecord {
  lsn: number
  stream: string
  module: string
  core: string
  /**
   * µs. The index keeps ts as a JS number (SQLite INTEGER, time buckets, `next` page tokens): a
   * bigint ts (above 2^53-1, a producer's u64) is indexed clamped to 2^53-1 (year ≈ 2255); the
   * record itself, read from the log by lsn, stays exact.
   */
  ts: number | bigint
  body: Uint8Array
}

export interface IndexWriterOptions {
  records?: boolean
  fields?: string[]
  rawPoints?: boolean
  synchronous?: 'normal' | 'full'
}

export interface ApplyResult {
  /** Records indexed by this call. */
  applied: number
  /** Records skipped as already applied (redelivery). */
  skipped: number
  /** Time-series points extracted. */
  points: number
}

/**
 * Chunks kept in memory after a batch, at most (3.4 KB each: ~14 MB). Past it they are all
 * dropped and the next batches read what they touch again.
 */
/** Larger magnitudes add no point: ~1.8e18 such values in one bucket before a sum overflows. */
const kMaxAbs = 1e290
const kCachedChunks = 4096

const later = (ts: number, lsn: number, thanTs: number, thanLsn: number) =>
  ts > thanTs || (ts === thanTs && lsn > thanLsn)

/** A module seen by this writer: its name id and, per batch, its applied-through lsn. */
interface ModuleState {
  id: number
  /** The batch (generation) `through` and `stored` belong to. */
  gen: number
  through: number
  stored: number
}

/** A (series, minute) chunk in memory. */
interface Minute {
  series: SeriesState
  minute: number
  chunk: Chunk
  /** The chunk holds the stored row too (written by this writer, or read and merged). */
  loaded: boolean
  /** The batch (generation) that last added to it: it is written at that batch's end. */
  gen: number
}

/** One configured field of one (stream, module): its series and its chunks in memory. */
interface SeriesState {
  /** Series id, 0 until its first point creates the row. */
  id: number
  /** The batch (generation) the latest point belongs to. */
  gen: number
  /** Minute → its chunk: this batch's points, and stored rows kept from earlier batches. */
  minutes: Map<number, Minute>
  /** The minute last added to (records come in time order within a frame: mostly a hit). */
  at: Minute | undefined
  lastV: number
  lastTs: number
  lastLsn: number
}

/** A (stream, module) pair: its ids and its series, one per configured field. */
interface Slot {
  streamName: string
  moduleName: string
  stream: number
  module: ModuleState
  series: SeriesState[]
}

export class IndexWriter {
  readonly db: DatabaseSync
  readonly path: string
  #records: boolean
  #rawPoints: boolean
  #fieldNames: string[]
  #readFields: FieldsReader
  /** The current body's field values (NaN = no point). */
  #values: Float64Array
  /** Interned name ids, one map per kind (kStream, kModule, kCore). */
  #names = [new Map<string, number>(), new Map<string, number>(), new Map<string, number>()]
  #modules = new Map<string, ModuleState>()
  /** module name → stream name → slot. */
  #slots = new Map<string, Map<string, Slot>>()
  /** Batch generation: per-batch state in modules and series is valid when its gen equals it. */
  #gen = 0
  /** Chunks held in the series' `minutes` maps (at most kCachedChunks after a batch). */
  #cached = 0
  /** `PRAGMA data_version` after our last commit: another connection's commit changes it. */
  #dataVersion = -1
  #s: Record<string, StatementSync>
  #runs: RunBuilder
  #pointRows: BulkInsert

  constructor(path: string, options: IndexWriterOptions = {}) {
    this.path = path
    this.db = openDatabase(path, { synchronous: options.synchronous ?? 'normal' })
    this.#records = options.records ?? true
    this.#rawPoints = options.rawPoints ?? false
    this.#fieldNames = options.fields ?? []
    this.#readFields = compileFields(this.#fieldNames)
    this.#values = new Float64Array(this.#fieldNames.length)
    const db = this.db
    this.#s = {
      nameGet: db.prepare('SELECT id FROM names WHERE kind = ? AND name = ?'),
      nameAdd: db.prepare('INSERT INTO names (kind, name) VALUES (?, ?)'),
      seriesGet: db.prepare('SELECT id FROM series WHERE stream = ? AND module = ? AND field = ?'),
      seriesAdd: db.prepare('INSERT INTO series (stream, module, field) VALUES (?, ?, ?)'),
      seriesLast: db.prepare(`UPDATE series SET last = ?, last_ts = ?, last_lsn = ?
        WHERE id = ? AND (last_ts IS NULL OR ? > last_ts OR (? = last_ts AND ? > last_lsn))`),
      appliedGet: db.prepare('SELECT lsn FROM applied WHERE module = ?'),
      appliedSet: db.prepare(
        'INSERT INTO applied (module, lsn) VALUES (?, ?) ON CONFLICT (module) DO UPDATE SET lsn = max(lsn, excluded.lsn)',
      ),
      chunkGet: db.prepare('SELECT cells, max_lsn FROM rollup WHERE series = ? AND minute = ?'),
      chunkPut: db.prepare(kChunkPut),
      dataVersion: db.prepare('PRAGMA data_version'),
    }
    // The query side needs to know whether steps finer than the rollups can be answered.
    db.prepare(
      "INSERT INTO meta (key, value) VALUES ('raw_points', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ).run(this.#rawPoints ? 1 : 0)
    this.#runs = new RunBuilder(db)
    this.#pointRows = new BulkInsert(db, 'INSERT OR IGNORE INTO points (series, ts, lsn, value)', 4)
  }

  #name(kind: number, name: string): number {
    const names = this.#names[kind]!
    let id = names.get(name)
    if (id === undefined) {
      const row = this.#s.nameGet!.get(kind, name) as { id: number } | undefined
      id = row ? row.id : Number(this.#s.nameAdd!.run(kind, name).lastInsertRowid)
      names.set(name, id)
    }
    return id
  }

  /** The slot of (stream, module), created (with its name ids) on first use. */
  #slot(streamName: string, moduleName: string): Slot {
    let byStream = this.#slots.get(moduleName)
    if (byStream === undefined) {
      byStream = new Map()
      this.#slots.set(moduleName, byStream)
    }
    let slot = byStream.get(streamName)
    if (slot === undefined) {
      let module = this.#modules.get(moduleName)
      if (module === undefined) {
        module = { id: this.#name(kModule, moduleName), gen: 0, through: 0, stored: 0 }
        this.#modules.set(moduleName, module)
      }
      slot = {
        streamName,
        moduleName,
        stream: this.#name(kStream, streamName),
        module,
        series: this.#fieldNames.map(() => ({
          id: 0,
          gen: 0,
          minutes: new Map(),
          at: undefined,
          lastV: 0,
          lastTs: 0,
          lastLsn: 0,
        })),
      }
      byStream.set(streamName, slot)
    }
    return slot
  }

  #seriesId(stream: number, module: number, field: string): number {
    const row = this.#s.seriesGet!.get(stream, module, field) as { id: number } | undefined
    return row ? row.id : Number(this.#s.seriesAdd!.run(stream, module, field).lastInsertRowid)
  }

  /** Apply records (any modules, each module's in lsn order) atomically with their applied lsns. */
  apply(batch: readonly IndexableRecord[]): ApplyResult {
    const out: ApplyResult = { applied: 0, skipped: 0, points: 0 }
    if (batch.length === 0) return out
    const s = this.#s
    const gen = ++this.#gen
    const nFields = this.#fieldNames.length
    const values = this.#values
    const modules: ModuleState[] = []
    const touched: SeriesState[] = []
    const dirty: Minute[] = []
    // IMMEDIATE: take the write lock before reading applied lsns, so another writer thread cannot
    // apply the same records between our read and our commit.
    this.db.exec('BEGIN IMMEDIATE')
    try {
      // Another writer (a second worker thread on this file) committed: our chunks may be stale.
      const version = (s.dataVersion!.get() as { data_version: number }).data_version
      if (version !== this.#dataVersion) this.#dropChunks()
      // Records come in runs of one (stream, module, core) (a frame's records): compare with the
      // previous record's names before any map lookup.
      let slot: Slot | undefined
      let coreName: string | undefined
      let core = 0
      for (const r of batch) {
        if (slot === undefined || r.module !== slot.moduleName || r.stream !== slot.streamName) {
          slot = this.#slot(r.stream, r.module)
        }
        const m = slot.module
        if (m.gen !== gen) {
          m.gen = gen
          m.through = (s.appliedGet!.get(m.id) as { lsn: number } | undefined)?.lsn ?? 0
          m.stored = m.through
          modules.push(m)
        }
        if (r.lsn <= m.through) {
          out.skipped++
          continue
        }
        m.through = r.lsn
        out.applied++
        const ts = typeof r.ts === 'number' ? r.ts : Number.MAX_SAFE_INTEGER
        if (this.#records) {
          if (r.core !== coreName) {
            coreName = r.core
            core = this.#name(kCore, coreName)
          }
          this.#runs.add(slot.stream, m.id, core, r.lsn, ts)
        }
        if (nFields === 0 || !this.#readFields(r.body, values)) continue
        const minute = minuteOf(ts)
        const sec = Math.floor((ts - minute) / kSecondUs)
        for (let i = 0; i < nFields; i++) {
          const v = values[i]!
          // NaN: no point. Beyond ±kMaxAbs: none either, or a second's sum could overflow to +Inf
          // and -Inf, whose NaN total SQLite cannot store (rollup.sum is NOT NULL): the batch would
          // fail on every redelivery and the index stop for good.
          if (!(Math.abs(v) <= kMaxAbs)) continue
          out.points++
          const ser = slot.series[i]!
          if (ser.gen !== gen) {
            if (ser.id === 0) ser.id = this.#seriesId(slot.stream, m.id, this.#fieldNames[i]!)
            ser.gen = gen
            ser.lastTs = Number.NEGATIVE_INFINITY
            touched.push(ser)
          }
          if (this.#rawPoints) this.#pointRows.add(ser.id, ts, r.lsn, v)
          let at = ser.at
          if (at === undefined || at.minute !== minute) {
            at = ser.minutes.get(minute)
            if (at === undefined) {
              at = { series: ser, minute, chunk: new Chunk(), loaded: false, gen: 0 }
              ser.minutes.set(minute, at)
              this.#cached++
            }
            ser.at = at
          }
          if (at.gen !== gen) {
            at.gen = gen
            dirty.push(at)
          }
          at.chunk.add(sec, v, ts, r.lsn)
          if (later(ts, r.lsn, ser.lastTs, ser.lastLsn)) {
            ser.lastV = v
            ser.lastTs = ts
            ser.lastLsn = r.lsn
          }
        }
      }
      this.#runs.flush()
      this.#pointRows.flush()
      for (const at of dirty) {
        const id = at.series.id
        if (!at.loaded) {
          const old = s.chunkGet!.get(id, at.minute) as { cells: Uint8Array; max_lsn: number } | undefined
          if (old !== undefined) at.chunk.merge(old.cells, old.max_lsn)
          at.loaded = true
        }
        putChunk(s.chunkPut!, id, at.minute, at.chunk)
      }
      for (const ser of touched)
        s.seriesLast!.run(ser.lastV, ser.lastTs, ser.lastLsn, ser.id, ser.lastTs, ser.lastTs, ser.lastLsn)
      for (const m of modules) if (m.through > m.stored) s.appliedSet!.run(m.id, m.through)
      this.db.exec('COMMIT')
      this.#dataVersion = version
      if (this.#cached > kCachedChunks) this.#dropChunks()
    } catch (err) {
      this.#rollback()
      throw err
    }
    return out
  }

  /** Highest applied lsn over all modules (0 for an empty index). */
  appliedLsn(): number {
    return (this.db.prepare('SELECT max(lsn) AS lsn FROM applied').get() as { lsn: number | null }).lsn ?? 0
  }

  /**
   * Retention follows the log: drop rows for records below `minLsn` (the log's oldest segment
   * base). A record run, and a rollup minute, goes when its newest record is gone; one straddling
   * the cut stays whole until then (the query side never returns records below the cut). Returns
   * the number of records whose run was dropped.
   */
  prune(minLsn: number): number {
    const prev = this.db.prepare("SELECT value FROM meta WHERE key = 'pruned_below'").get() as
      | { value: number }
      | undefined
    if (prev !== undefined && prev.value >= minLsn) return 0
    // A chunk kept in memory may be a row deleted here: the next batch must not write it back.
    this.#dropChunks()
    this.db.exec('BEGIN IMMEDIATE')
    try {
      const gone = this.db
        .prepare('SELECT coalesce(sum(count), 0) AS n FROM record_runs WHERE last_lsn < ?')
        .get(minLsn) as { n: number }
      this.db.prepare('DELETE FROM record_runs WHERE last_lsn < ?').run(minLsn)
      this.db.prepare('DELETE FROM points WHERE lsn < ?').run(minLsn)
      this.db.prepare('DELETE FROM rollup WHERE max_lsn < ?').run(minLsn)
      this.db
        .prepare(
          "INSERT INTO meta (key, value) VALUES ('pruned_below', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .run(minLsn)
      this.db.exec('COMMIT')
      return gone.n
    } catch (err) {
      this.#rollback()
      throw err
    }
  }

  /** Forget the chunks kept in memory (the stored rows stay the truth). */
  #dropChunks(): void {
    for (const byStream of this.#slots.values())
      for (const slot of byStream.values())
        for (const ser of slot.series) {
          ser.minutes.clear()
          ser.at = undefined
        }
    this.#cached = 0
  }

  #rollback(): void {
    // Ids handed out inside the failed transaction no longer exist.
    for (const m of this.#names) m.clear()
    this.#modules.clear()
    // The chunks in memory hold the failed batch's points: drop them with the slots.
    this.#slots.clear()
    this.#cached = 0
    this.#runs.clear()
    this.#pointRows.clear()
    if (this.db.isTransaction) this.db.exec('ROLLBACK')
  }

  close(): void {
    if (this.db.isOpen) this.db.close()
  }
}
