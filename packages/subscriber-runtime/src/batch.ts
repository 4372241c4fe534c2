/**
 * A batch being built and delivered: the records of committed log groups it owns, kept as runs of
 * record indexes into those groups (GroupCursor) rather than as record objects. The main thread
 * touches a record only to filter, shard and count it; encode() writes the columnar wire batch
 * (codec.ts) straight from the groups' columns, one byte-range copy per run for the bodies.
 * records() materialises objects for the rare paths that need them (dead letters).
 */
import { type CommittedGroup, groupRecord, groupTs } from '@module-ingest/log'
import { allocBatch, Strings, writeStrings } from './codec.ts'
import type { StoredRecord } from './log-types.ts'
import type { Owner } from './offsets.ts'
import { kSliceBytes, kSliceRecords, Slicer } from './slices.ts'

/** Records `from`..`to - 1` of `g`. */
interface Run {
  g: CommittedGroup
  from: number
  to: number
}

/** Per-record bytes counted toward `batch.maxBytes` besides body and names (as codec.ts lays it out). */
const kRecordOverhead = 48

export class Batch implements Owner {
  done = false
  count = 0
  bytes = 0
  firstLsn = 0
  lastLsn = 0
  readonly openedAt = Date.now()
  #runs: Run[] = []
  #last: Run | undefined

  /** Record `i` of `g`; records arrive in log order. */
  add(g: CommittedGroup, i: number): void {
    const last = this.#last
    if (last !== undefined && last.g === g && last.to === i) last.to++
    else {
      this.#last = { g, from: i, to: i + 1 }
      this.#runs.push(this.#last)
    }
    const lsn = g.baseLsn + i
    if (this.count++ === 0) this.firstLsn = lsn
    this.lastLsn = lsn
    const b = g.batches[g.batch[i]!]!
    this.bytes +=
      g.bodyEnd[i]! -
      g.bodyStart[i]! +
      g.streams[g.stream[i]!]!.length +
      b.module.length +
      b.core.length +
      kRecordOverhead
  }

  /**
   * A fresh ArrayBuffer in codec.ts's layout (decodeBatch reads it), for the caller to transfer.
   * Written in slices (slices.ts): at most kSliceBytes of bodies or kSliceRecords records per
   * event-loop turn, so a 64 MiB batch does not hold the host's main thread for its whole copy.
   */
  async encode(): Promise<ArrayBuffer> {
    const n = this.count
    const runs = this.#runs
    const strings = new Strings()
    // Names per run, for the streams and appends the run touches: not every append of the group
    // (a group holds up to thousands of records; a small batch takes a few of them), and not one
    // lookup per record. An append's records are contiguous, so its index only grows along a run.
    const ids: { stream: number[]; module: number[]; core: number[]; b0: number }[] = []
    const slices = new Slicer()
    for (const { g, from, to } of runs) {
      const stream: number[] = []
      for (let i = from; i < to; i++) {
        const s = g.stream[i]!
        if (stream[s] === undefined) stream[s] = strings.id(g.streams[s]!)
      }
      const b0 = g.batch[from]!
      const module: number[] = []
      const core: number[] = []
      for (let b = b0, end = g.batch[to - 1]!; b <= end; b++) {
        module.push(strings.id(g.batches[b]!.module))
        core.push(strings.id(g.batches[b]!.core))
      }
      ids.push({ stream, module, core, b0 })
      const turn = slices.step(to - from)
      if (turn) await turn
    }
    let spans = 0
    for (const r of runs) spans += r.g.bodyEnd[r.to - 1]! - r.g.bodyStart[r.from]!
    const ns = strings.list.length
    const bigTs = runs.some((r) => r.g.bigTs !== undefined && r.g.bigTs.size > 0)
    const { ab, buf, f64, seq, u32, textAt, big } = allocBatch(n, ns, strings.bytes + spans, bigTs)
    const bodiesAt = writeStrings(buf, u32.subarray(5 * n), strings.list, textAt)
    let k = 0
    let at = 0 // where the current run's span starts, relative to bodiesAt
    for (let ri = 0; ri < runs.length; ri++) {
      const { g, from, to } = runs[ri]!
      const { stream, module, core, b0 } = ids[ri]!
      const spanStart = g.bodyStart[from]!
      const spanEnd = g.bodyEnd[to - 1]!
      // The run's span (record headers between bodies included) in pieces of whole records, each
      // piece copied up to the next record's body so the pieces stay one contiguous span.
      for (let a = from; a < to; ) {
        let e = a + 1
        while (e < to && e - a < kSliceRecords && g.bodyEnd[e]! - g.bodyStart[a]! <= kSliceBytes) e++
        const pieceEnd = e < to ? g.bodyStart[e]! : spanEnd
        buf.set(g.body.subarray(g.bodyStart[a]!, pieceEnd), bodiesAt + at + g.bodyStart[a]! - spanStart)
        f64.set(g.ts.subarray(a, e), n + k)
        for (let i = a; i < e; i++, k++) {
          const bi = g.batch[i]!
          const b = g.batches[bi]!
          f64[k] = g.baseLsn + i
          f64[2 * n + k] = b.rts
          if (big !== undefined && Number.isNaN(g.ts[i]!)) big[k] = groupTs(g, i) as bigint
          seq[k] = b.seq
          u32[k] = stream[g.stream[i]!]!
          u32[n + k] = module[bi - b0]!
          u32[2 * n + k] = core[bi - b0]!
          u32[3 * n + k] = at + g.bodyStart[i]! - spanStart
          u32[4 * n + k] = g.bodyEnd[i]! - g.bodyStart[i]!
        }
        const turn = slices.step(e - a, pieceEnd - g.bodyStart[a]!)
        if (turn) await turn
        a = e
      }
      at += spanEnd - spanStart
    }
    return ab
  }

  /** The batch's records as objects (copies). */
  records(): StoredRecord[] {
    const out: StoredRecord[] = []
    for (const { g, from, to } of this.#runs) for (let i = from; i < to; i++) out.push(groupRecord(g, i))
    return out
  }

  /** Delivered or dead-lettered: let the groups go. */
  release(): void {
    this.#runs = []
    this.#last = undefined
  }
}
