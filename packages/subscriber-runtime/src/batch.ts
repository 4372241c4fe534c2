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

  /** A fresh ArrayBuffer in codec.ts's layout (decodeBatch reads it), for the caller to transfer. */
  encode(): ArrayBuffer {
    const n = this.count
    const strings = new Strings()
    // Names per run, for the streams and appends the run touches: not every append of the group
    // (a group holds up to thousands of records; a small batch takes a few of them), and not one
    // lookup per record. An append's records are contiguous, so its index only grows along a run.
    const ids = this.#runs.map(({ g, from, to }) => {
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
      return { stream, module, core, b0 }
    })
    let spans = 0
    for (const r of this.#runs) spans += r.g.bodyEnd[r.to - 1]! - r.g.bodyStart[r.from]!
    const ns = strings.list.length
    const bigTs = this.#runs.some((r) => r.g.bigTs !== undefined && r.g.bigTs.size > 0)
    const { ab, buf, f64, seq, u32, textAt, big } = allocBatch(n, ns, strings.bytes + spans, bigTs)
    const bodiesAt = writeStrings(buf, u32.subarray(5 * n), strings.list, textAt)
    let k = 0
    let at = 0 // where the current run's span starts, relative to bodiesAt
    for (let ri = 0; ri < this.#runs.length; ri++) {
      const { g, from, to } = this.#runs[ri]!
      const { stream, module, core, b0 } = ids[ri]!
      const spanStart = g.bodyStart[from]!
      const spanEnd = g.bodyEnd[to - 1]!
      buf.set(g.body.subarray(spanStart, spanEnd), bodiesAt + at)
      f64.set(g.ts.subarray(from, to), n + k)
      for (let i = from; i < to; i++, k++) {
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
