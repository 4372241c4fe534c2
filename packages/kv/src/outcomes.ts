/**
 * How the writer learns what happened to its write: the `outcomes` table (schema.ts), written by
 * the materializer, read by read.ts.
 *
 * One row per transaction, except that consecutive committed single-op writes of one module in
 * one namespace (consecutive lsns and consecutive seqs: a producer's stream of DATA frames, which
 * group commit keeps together in the log) share one row, a run: at thousands of sets per delivery
 * that is a handful of rows instead of thousands. A row with ops = 1 that covers lsn..last_lsn is
 * a run of last_lsn - lsn + 1 writes, write k having lsn + k and seq + k; a transaction's ops are
 * contiguous lsns, so a transaction row always has ops = last_lsn - lsn + 1.
 *
 * `seq` is stored as an integer (so a run is found by `seq <= ?`), or as text when it does not fit
 * SQLite's signed 64 bits (never in a run).
 */
import type { StatementSync } from 'node:sqlite'

const kI64Max = 2n ** 63n - 1n

/** The identity of a write: what outcomes are keyed by. */
interface Head {
  lsn: number
  module: string
  seq: bigint
}

interface Run {
  lsn: number
  last: number
  ns: string
  module: string
  seq: bigint
  lastSeq: bigint
  /** Grown since written (or never written). */
  dirty: boolean
}

export class OutcomeWriter {
  #insert: StatementSync
  #last: StatementSync
  #run: Run | undefined

  /**
   * `insert`: INSERT OR REPLACE INTO outcomes (lsn, last_lsn, ns, module, seq, ops, ok, code, idx,
   * message); `last`: the newest row.
   */
  constructor(insert: StatementSync, last: StatementSync) {
    this.#insert = insert
    this.#last = last
    last.setReadBigInts(true)
  }

  /**
   * At the start of a delivery: the newest row, if a run, may grow. So rows do not depend on where
   * deliveries happened to be cut (a snapshot plus replay writes the same rows as a full replay).
   */
  resume(): void {
    const r = this.#last.get() as OutcomeRow | undefined
    this.#run =
      r && r.ops === 1n && r.ok === 1n && typeof r.seq === 'bigint'
        ? {
            lsn: Number(r.lsn),
            last: Number(r.last_lsn),
            ns: r.ns,
            module: r.module,
            seq: r.seq,
            lastSeq: r.seq + (r.last_lsn - r.lsn),
            dirty: false,
          }
        : undefined
  }

  /** A committed transaction `head.lsn..last` of `ops` operations. */
  ok(ns: string, head: Head, last: number, ops: number): void {
    const r = this.#run
    if (ops === 1) {
      if (
        r &&
        head.lsn === r.last + 1 &&
        head.seq === r.lastSeq + 1n &&
        r.module === head.module &&
        r.ns === ns
      ) {
        r.last = head.lsn
        r.lastSeq = head.seq
        r.dirty = true
        return
      }
      this.flush()
      if (head.seq <= kI64Max) {
        const { lsn, module, seq } = head
        this.#run = { lsn, last: lsn, ns, module, seq, lastSeq: seq, dirty: true }
        return
      }
    } else this.flush()
    this.#row(head.lsn, last, ns, head.module, head.seq, ops, 1, null, null, null)
  }

  /** A rejected transaction: which op (`idx`) failed with which code. */
  rejected(
    ns: string,
    head: Head,
    last: number,
    ops: number,
    code: string,
    idx: number | null,
    message: string,
  ): void {
    this.flush()
    this.#row(head.lsn, last, ns, head.module, head.seq, ops, 0, code, idx, message)
  }

  /** Write the open run (before the delivery's commit). */
  flush(): void {
    const r = this.#run
    if (!r) return
    this.#run = undefined
    if (r.dirty) this.#row(r.lsn, r.last, r.ns, r.module, r.seq, 1, 1, null, null, null)
  }

  /** Forget the open run (the delivery rolled back). */
  drop(): void {
    this.#run = undefined
  }

  #row(
    lsn: number,
    last: number,
    ns: string,
    module: string,
    seq: bigint,
    ops: number,
    ok: number,
    code: string | null,
    idx: number | null,
    message: string | null,
  ): void {
    this.#insert.run(lsn, last, ns, module, seq <= kI64Max ? seq : String(seq), ops, ok, code, idx, message)
  }
}

/** A stored outcome row (read with readBigInts) → the outcome of write `pick` in it, if it holds it. */
export interface OutcomeRow {
  lsn: bigint
  last_lsn: bigint
  ns: string
  module: string
  seq: bigint | string
  ops: bigint
  ok: bigint
  code: string | null
  idx: bigint | null
  message: string | null
}

export interface Outcome {
  /** First and last lsn of the transaction. */
  lsn: number
  lastLsn: number
  ns: string
  module: string
  seq: string
  ops: number
  ok: boolean
  code?: string
  /** Which operation (0-based) failed. */
  index?: number
  message?: string
}

/** The outcome of the write at `lsn`, or with `seq`, if row `r` holds it. */
export function outcomeOf(r: OutcomeRow, q: { lsn: number } | { seq: bigint | string }): Outcome | undefined {
  const lsn = Number(r.lsn)
  const lastLsn = Number(r.last_lsn)
  const ops = Number(r.ops)
  const base = { ns: r.ns, module: r.module, ops, ok: r.ok === 1n }
  if (ops === 1 && lastLsn > lsn) {
    // A run: write k of it.
    const k = 'lsn' in q ? q.lsn - lsn : typeof q.seq === 'bigint' ? Number(q.seq - BigInt(r.seq)) : -1
    if (k < 0 || k > lastLsn - lsn) return undefined
    return { lsn: lsn + k, lastLsn: lsn + k, seq: String(BigInt(r.seq) + BigInt(k)), ...base }
  }
  if ('lsn' in q ? q.lsn < lsn || q.lsn > lastLsn : String(q.seq) !== String(r.seq)) return undefined
  return {
    lsn,
    lastLsn,
    seq: String(r.seq),
    ...base,
    ...(r.code === null ? {} : { code: r.code, index: Number(r.idx), message: String(r.message) }),
  }
}
