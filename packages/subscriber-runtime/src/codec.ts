import type { StoredRecord } from './log-types.ts'

/**
 * One batch crosses into the worker as one ArrayBuffer, moved (transferred), never
 * structured-cloned record by record. The layout is columnar so both sides do little per record:
 * numbers go into typed arrays, the strings of a batch (a few streams and modules, repeated on
 * every record) are written once each, and the worker hands the plugin bodies as views into the
 * moved buffer instead of copies. msgpackr with records did the same job at about 3× the CPU per
 * record on each side (bench/dispatch.bench.ts).
 *
 *   u32 count · u32 strings · u32 bigTs                        (header, 16 bytes)
 *   f64 lsn[count] · f64 ts[count] · f64 rts[count]            (timestamps are µs numbers)
 *   u64 seq[count]
 *   u32 stream[count] · u32 module[count] · u32 core[count]    (indexes into the string table)
 *   u32 bodyStart[count] · u32 bodyLength[count] · u32 stringLength[strings]
 *   string bytes (utf8) · body bytes
 *   bigTs = 1 only: padding to 8 · u64 ts[count]               (where the f64 ts is NaN)
 *
 * A ts above 2^53-1 is a bigint (SubscriberRecord): a batch holding one carries the last column,
 * so the usual batch pays nothing for the rare producer that sends one.
 *
 * bodyStart is relative to the body bytes, which need not be packed: the group encoder
 * (batch-builder.ts) copies each run of records as one range of the log group's bytes, record
 * headers between the bodies included, instead of one copy per body.
 */
const kHeader = 16

/** Typed views over a batch of `n` records, `ns` strings and `extra` bytes of strings + bodies. */
export interface BatchViews {
  ab: ArrayBuffer
  buf: Buffer
  /** lsn[n] · ts[n] · rts[n] */
  f64: Float64Array
  seq: BigUint64Array
  /** stream[n] · module[n] · core[n] · bodyStart[n] · bodyLength[n] · stringLength[ns] */
  u32: Uint32Array
  /** Where the string bytes start (the body bytes follow them). */
  textAt: number
  /** ts[n] for records whose f64 ts is NaN; only when allocated with `bigTs`. */
  big: BigUint64Array | undefined
}

/**
 * A fresh ArrayBuffer that is not zero-filled: the encoders write every byte a reader looks at.
 * `new ArrayBuffer` zeroes it first, and for a batch of 1 KiB records (~0.5 MB) that fill plus
 * its share of GC cost three times the transfer itself (30–40 µs against ~10 µs per batch,
 * measured with a worker echoing transferred buffers). Not a pool of reused buffers: plugins may keep
 * body views past handle() although the SDK tells them to copy, and a recycled buffer would change
 * under them.
 */
function uninitialized(size: number): ArrayBuffer {
  return Buffer.allocUnsafeSlow(size).buffer as ArrayBuffer
}

export function allocBatch(n: number, ns: number, extra: number, bigTs = false): BatchViews {
  const textAt = kHeader + 52 * n + 4 * ns
  const end = textAt + extra
  const bigAt = align8(end)
  const ab = uninitialized(bigTs ? bigAt + 8 * n : end)
  const head = new Uint32Array(ab, 0, 4)
  head[0] = n
  head[1] = ns
  head[2] = bigTs ? 1 : 0
  head[3] = 0 // padding: no stale bytes in what a plugin can reach through body.buffer
  if (bigTs) new Uint8Array(ab, end).fill(0) // alignment and the rare bigint ts column: written sparsely
  return {
    ab,
    buf: Buffer.from(ab),
    f64: new Float64Array(ab, kHeader, 3 * n),
    seq: new BigUint64Array(ab, kHeader + 24 * n, n),
    u32: new Uint32Array(ab, kHeader + 32 * n, 5 * n + ns),
    textAt,
    big: bigTs ? new BigUint64Array(ab, bigAt, n) : undefined,
  }
}

function align8(n: number): number {
  return (n + 7) & ~7
}

/** Index of `s` in `table`, adding it. The last hit is checked first: streams and modules come in runs. */
export class Strings {
  readonly list: string[] = []
  readonly #index = new Map<string, number>()
  #last = ''
  #lastIdx = -1
  bytes = 0

  id(s: string): number {
    if (s === this.#last && this.#lastIdx >= 0) return this.#lastIdx
    let i = this.#index.get(s)
    if (i === undefined) {
      i = this.list.length
      this.list.push(s)
      this.#index.set(s, i)
      this.bytes += Buffer.byteLength(s)
    }
    this.#last = s
    this.#lastIdx = i
    return i
  }
}

export function writeStrings(buf: Buffer, lens: Uint32Array, list: readonly string[], pos: number): number {
  for (let i = 0; i < list.length; i++) {
    const n = buf.write(list[i]!, pos, 'utf8')
    lens[i] = n
    pos += n
  }
  return pos
}

function readStrings(buf: Buffer, lens: Uint32Array, count: number, pos: number): [string[], number] {
  const out: string[] = new Array(count)
  for (let i = 0; i < count; i++) {
    out[i] = buf.toString('utf8', pos, pos + lens[i]!)
    pos += lens[i]!
  }
  return [out, pos]
}

/** Encode into a fresh ArrayBuffer that the caller may transfer. */
export function encodeBatch(records: readonly StoredRecord[]): ArrayBuffer {
  const n = records.length
  const strings = new Strings()
  const ids = new Uint32Array(3 * n)
  let bodyBytes = 0
  let bigTs = false
  for (let i = 0; i < n; i++) {
    const r = records[i]!
    if (typeof r.ts === 'bigint') bigTs = true
    ids[i] = strings.id(r.stream)
    ids[n + i] = strings.id(r.module)
    ids[2 * n + i] = strings.id(r.core)
    bodyBytes += r.body.byteLength
  }
  const ns = strings.list.length
  const { ab, buf, f64, seq, u32, textAt, big } = allocBatch(n, ns, strings.bytes + bodyBytes, bigTs)
  u32.set(ids)
  const bodiesAt = writeStrings(buf, u32.subarray(5 * n), strings.list, textAt)
  let pos = 0
  for (let i = 0; i < n; i++) {
    const r = records[i]!
    f64[i] = r.lsn
    if (typeof r.ts === 'number') f64[n + i] = r.ts
    else {
      f64[n + i] = Number.NaN
      big![i] = r.ts
    }
    f64[2 * n + i] = r.rts
    seq[i] = r.seq
    u32[3 * n + i] = pos
    u32[4 * n + i] = r.body.byteLength
    buf.set(r.body, bodiesAt + pos)
    pos += r.body.byteLength
  }
  return ab
}

/** The records of a moved batch; bodies are views into `ab` (one allocation for the whole batch). */
export function decodeBatch(ab: ArrayBuffer): StoredRecord[] {
  const head = new Uint32Array(ab, 0, 3)
  const n = head[0]!
  const ns = head[1]!
  const big = head[2] === 1 ? new BigUint64Array(ab, ab.byteLength - 8 * n, n) : undefined
  const f64 = new Float64Array(ab, kHeader, 3 * n)
  const seq = new BigUint64Array(ab, kHeader + 24 * n, n)
  const u32 = new Uint32Array(ab, kHeader + 32 * n, 5 * n + ns)
  const [strings, bodiesAt] = readStrings(Buffer.from(ab), u32.subarray(5 * n), ns, kHeader + 52 * n + 4 * ns)
  const out: StoredRecord[] = new Array(n)
  for (let i = 0; i < n; i++) {
    out[i] = {
      lsn: f64[i]!,
      stream: strings[u32[i]!]!,
      module: strings[u32[n + i]!]!,
      core: strings[u32[2 * n + i]!]!,
      seq: seq[i]!,
      ts: big === undefined || !Number.isNaN(f64[n + i]) ? f64[n + i]! : big[i]!,
      rts: f64[2 * n + i]!,
      body: new Uint8Array(ab, bodiesAt + u32[3 * n + i]!, u32[4 * n + i]!),
    }
  }
  return out
}

/** A record for the host to append (dead letters); a batch's derived records come packed (emit.ts). */
export interface WireEmit {
  stream: string
  body: Uint8Array
}
