/**
 * Writer worker entry: the only thread that writes the log.
 *
 * It drains every parser's writer ring in turn, appends each accepted frame as one atomic log
 * unit, and lets packages/log form groups and fdatasync them. When a group is durable it tells each
 * parser how many of its ring entries are now durable — one Atomics.store per parser per group,
 * no message per frame — and the parser turns that into cumulative ACKs.
 *
 * If the log cannot make data durable (disk full, I/O error) the writer stops taking entries: the
 * entry it could not append stays at the head of its queue, rings fill up, parsers stop reading,
 * and the main thread pauses sockets. The main thread tells clients OVERLOADED. Appending resumes
 * when the log is writable again.
 */
import { getHeapStatistics } from 'node:v8'
import { parentPort, workerData } from 'node:worker_threads'
import {
  type CommitInfo,
  type CommitSyncResult,
  kDefaults,
  type Log,
  type LogOptions,
  MI_ERR_LOG_UNAVAILABLE,
  openLog,
} from '@module-ingest/log'
import { encodedBodyBytes, encodedRts } from '@module-ingest/log/entry'
import { PackedAppendEncoder, type PackedRecords } from '@module-ingest/log/packed'
import { type LoopNext, RingConsumer, ringDoorbell, runDoorbellLoop } from '@module-ingest/ring'
import { Metrics } from '@module-ingest/telemetry'
import * as Comlink from 'comlink'
import { nowUs, W, type WriterEvent } from '../messages.ts'
import { armHeapGrowth } from '../test-hook.ts'

export interface WriterInit {
  logDir: string
  log: Partial<LogOptions>
  rings: SharedArrayBuffer[]
  /** Int32[1]: this worker sleeps on it; parsers ring it when they publish. */
  doorbell: Int32Array
  /** One Int32[1] per parser: rung after its durable count moves. */
  parserDoorbells: Int32Array[]
  /** Int32[parsers]: slot i = how many of parser i's ring entries are durable. */
  acks: SharedArrayBuffer
  /**
   * Int32[parsers]: slot i = parser i's entry count when the log last lost un-synced appends
   * (disk full, I/O error). Entries up to it that were not durable must never be acknowledged.
   */
  lost: SharedArrayBuffer
  control: import('node:worker_threads').MessagePort
}

const init = workerData as WriterInit
armHeapGrowth('writer')
const { doorbell } = init
const acks = new Int32Array(init.acks)
const lost = new Int32Array(init.lost)
const { parserDoorbells } = init
const consumers = init.rings.map((sab) => new RingConsumer(sab, { doorbell }))

const metrics = new Metrics()
const flushLatency = metrics.histogram(
  'mi_flush_latency_us',
  'First append of a group to durable (group commit)',
  {
    unit: 'us',
  },
)
const syncLatency = metrics.histogram('mi_fsync_latency_us', 'fdatasync alone', { unit: 'us' })
const writeLatency = metrics.histogram('mi_write_latency_us', 'writev of one group', { unit: 'us' })
const writerQueue = metrics.histogram(
  'mi_writer_queue_us',
  'Frame received by its parser to appended by the writer (writer ring hop and writer busy time)',
  { unit: 'us' },
)
const groupRecords = metrics.histogram('mi_group_records', 'Records per group commit', { unit: 'records' })
const appended = metrics.counter('mi_records_appended_total', 'Records appended to the log')
const appendedBytes = metrics.counter('mi_record_bytes_appended_total', 'Body bytes appended to the log')

/** Plain numbers on the hot path; folded into the counters when stats are read. */
const tally = { records: 0, bytes: 0 }

const log: Log = await openLog(init.logDir, {
  ...init.log,
  onCommit(info: CommitInfo) {
    flushLatency.record(Math.max(1, Math.round(info.latencyUs)))
    if (info.syncUs > 0) syncLatency.record(Math.max(1, Math.round(info.syncUs)))
    writeLatency.record(Math.max(1, Math.round(info.writeUs)))
    groupRecords.record(Math.max(1, info.records))
  },
})

/**
 * Per parser ring: entries taken but not yet durable, as (entry count, lsn that makes it durable).
 * Entry counts wrap as Int32, exactly as the parser counts them.
 */
const queues = consumers.map(() => ({ entry: [] as number[], lsn: [] as number[], head: 0, count: 0 }))
const barriers: Array<{ lsn: number; token: number; module: string }> = []
let lastLsn = log.durableLsn
/** An entry the log refused (unavailable); retried before anything else is read. */
let stalled: { ring: number; entry: Buffer } | null = null

function post(event: WriterEvent): void {
  parentPort!.postMessage(event)
}

/** A parser encoded the frame's records for the log (packages/log "Parse once"): no decoding here. */
function appendEntry(data: Uint8Array): number {
  writerQueue.record(Math.max(1, nowUs() - encodedRts(data)))
  const { firstLsn, lastLsn } = log.appendEncoded(data)
  tally.records += lastLsn - firstLsn + 1
  tally.bytes += encodedBodyBytes(data)
  return lastLsn
}

/** Take one ring entry. Returns false when the log refused it (the entry is kept in `stalled`). */
function take(i: number, data: Uint8Array, kind: number): boolean {
  const q = queues[i]!
  let lsn = lastLsn
  if (kind === W.FRAME) {
    try {
      lsn = appendEntry(data)
    } catch (err) {
      // The log is unavailable (onError already reported it): keep this entry for the retry.
      if (!(err instanceof MI_ERR_LOG_UNAVAILABLE)) throw err
      stalled = { ring: i, entry: Buffer.from(data) }
      return false
    }
    lastLsn = lsn
  } else if (kind === W.BARRIER) {
    const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    barriers.push({ lsn, token: view.readUInt32BE(0), module: view.toString('latin1', 4) })
  }
  q.count = (q.count + 1) | 0
  q.entry.push(q.count)
  q.lsn.push(lsn)
  return true
}

/** Everything up to `durableLsn` is on disk: publish per-parser durable counts and barriers. */
function settle(durableLsn: number): void {
  for (let i = 0; i < queues.length; i++) {
    const q = queues[i]!
    let done = -1
    while (q.head < q.entry.length && q.lsn[q.head]! <= durableLsn) done = q.entry[q.head++]!
    if (done === -1) continue
    if (q.head === q.entry.length) q.entry.length = q.lsn.length = q.head = 0
    else if (q.head > 8192) {
      q.entry.splice(0, q.head)
      q.lsn.splice(0, q.head)
      q.head = 0
    }
    // The parser sleeps on its doorbell; it reads acks[i] after waking.
    Atomics.store(acks, i, done)
    ringDoorbell(parserDoorbells[i]!)
  }
  while (barriers.length > 0 && barriers[0]!.lsn <= durableLsn) {
    const b = barriers.shift()!
    post({ code: 'BARRIER', token: b.token, module: b.module, hwm: log.moduleHwm(b.module) })
  }
}

log.onDurable(settle)

// The log drops every append that no fdatasync covered yet, and will reuse their LSNs: forget
// those entries, and tell their parsers (before any later durable count can be published, so a
// parser that sees a new count also sees this) that they are lost. Barriers settle against what
// really is durable; the module high-water marks have rolled back with the log.
log.onResume(() => post({ code: 'LOG_AVAILABLE' }))
log.onError((err) => {
  for (let i = 0; i < queues.length; i++) {
    const q = queues[i]!
    if (q.head < q.entry.length) {
      Atomics.store(lost, i, q.count)
      ringDoorbell(parserDoorbells[i]!)
    }
    q.entry.length = q.lsn.length = q.head = 0
  }
  lastLsn = log.durableLsn
  for (const b of barriers) b.lsn = Math.min(b.lsn, lastLsn)
  settle(lastLsn)
  post({ code: 'LOG_UNAVAILABLE', message: err.message })
})

let internalSeq = 0n
function nextInternalSeq(module: string): bigint {
  if (internalSeq === 0n) internalSeq = log.moduleHwm(module)
  // Saturate instead of overflowing u64: a log written before mi:* was reserved may hold a
  // client-chosen HWM of 2^64-1 for this module, and internal writes must never fail on it.
  if (internalSeq < 0xffff_ffff_ffff_ffffn) internalSeq++
  return internalSeq
}
const packedEncoder = new PackedAppendEncoder()
const control = {
  stats() {
    appended.inc(tally.records)
    appendedBytes.inc(tally.bytes)
    tally.records = tally.bytes = 0
    return {
      log: log.stats(),
      metrics: metrics.snapshot(),
      stalled: stalled !== null,
      writerRingUsedBytes: consumers.map((c) => c.usedBytes),
      /** This worker's V8 heap in use (workers.writerHeapMb caps it). */
      heapUsedBytes: getHeapStatistics().used_heap_size,
    }
  },
  /** The log's durable signal (same-process readers wait on it; the buffer is shared). */
  durableSignal(): Int32Array {
    return log.durableSignal
  },
  /**
   * Derived records from subscribers (emit, dead letters): appended under a server module name.
   * Resolves once they are durable (the caller counts its batch done and its offset may pass them
   * only then), with the group commit this loop makes anyway under flush 'always' (log.whenDurable:
   * no fdatasync of their own), after an fdatasync of their own under the weaker policies.
   */
  async appendInternal(module: string, records: Array<{ stream: string; body: Uint8Array }>) {
    const rts = nowUs()
    const seq = nextInternalSeq(module)
    const { lastLsn: upTo } = log.append({
      module,
      core: '',
      seq,
      rts,
      records: records.map((r) => ({ ...r, ts: rts })),
    })
    await log.whenDurable(upTo)
  },
  /**
   * The same for records a subscriber's worker packed (`@module-ingest/log/packed`): one encoded
   * append whose records are copied as they came (after a check of their framing), no object per record.
   */
  async appendPacked(module: string, packed: PackedRecords) {
    const rts = nowUs()
    const seq = nextInternalSeq(module)
    const { lastLsn: upTo } = log.appendEncoded(packedEncoder.encode(module, '', seq, rts, packed))
    await log.whenDurable(upTo)
  },
  async close() {
    closing = true
    await log.sync()
    await log.close()
  },
}
Comlink.expose(control, init.control as unknown as Comlink.Endpoint)
export type WriterControl = typeof control

let closing = false
/**
 * Longest blocking sleep while idle. The writer blocks in Atomics.wait (runDoorbellLoop: a few µs
 * to wake, against ~40 µs for waitAsync), so its event loop runs only between sleeps (every 2 ms
 * when busy). Comlink calls ring the doorbell (engine threads.ts) and run at once; what is left
 * for this bound is the log's own timers (checkpoint, retention, verify: seconds apart), at most
 * this late when idle. Under flush 'interval' the background fdatasync is such a timer: the sleep
 * is then at most flushIntervalMs, so its period holds. Each idle wake costs CPU: at 5 ms (200
 * wakes/s) this thread took ~1.3% of a core on an idle server.
 */
const IDLE_SLEEP_MS =
  (init.log.flush ?? kDefaults.flush) === 'interval'
    ? Math.min(50, init.log.flushIntervalMs ?? kDefaults.flushIntervalMs ?? 50)
    : 50
const MAX_PASS_ENTRIES = 1 << 16
const RELEASE_EVERY = 1024
const ASYNC_COMMIT_ENTRIES = 512
/** The async group commit owns the log until it has drained (see below). */
let asyncCommits = false
const sleepIdle: LoopNext = { sleepMs: IDLE_SLEEP_MS }
/** The async commit's completions run on this event loop: wait without blocking it. */
const sleepForAsyncCommit: LoopNext = { sleepMs: 1, async: true }
/** The log refused an entry (unavailable): retry it at most this often, other work waits. */
const sleepStalled: LoopNext = { sleepMs: 250, async: true }
await runDoorbellLoop(
  doorbell,
  (): LoopNext => {
    if (closing) return 'stop'
    let work = 0
    if (stalled) {
      const { ring: i, entry } = stalled
      stalled = null
      if (!take(i, entry, W.FRAME)) return sleepStalled
    }
    // Take everything the rings hold (up to MAX_PASS_ENTRIES each): it all goes into this pass's
    // groups and under one fdatasync. While that fdatasync blocks this thread the rings fill
    // again, so a slow disk makes groups bigger instead of capping throughput at one small group
    // per sync. Released every RELEASE_EVERY entries, so the parser can refill the ring meanwhile.
    for (let i = 0; i < consumers.length && !stalled; i++) {
      const c = consumers[i]!
      const visit = (data: Uint8Array, kind: number) => take(i, data, kind)
      for (let taken = 0, n = RELEASE_EVERY; n === RELEASE_EVERY && taken < MAX_PASS_ENTRIES && !stalled; ) {
        n = c.read(visit, RELEASE_EVERY)
        c.release()
        taken += n
        work += n
      }
    }
    // A small pass (latency-bound load): write and fdatasync its group now, blocking this thread;
    // parsers keep filling the rings meanwhile and the next pass takes all of it as the next
    // group. settle() runs from the log's onDurable inside commitSync. A big pass (heavy load):
    // hand it to the async group commit, which overlaps the next passes' appends with the disk,
    // until it has drained (the serial append → write → fdatasync cycle gives up that overlap;
    // A/B runs on the shared 2-core machine were inconclusive: benchmarks/README.md, --base).
    let commit: CommitSyncResult
    if (work >= ASYNC_COMMIT_ENTRIES || asyncCommits) {
      log.commitAsync()
      commit = log.commitSync() === 'idle' ? 'idle' : 'busy'
      asyncCommits = commit === 'busy'
    } else commit = log.commitSync()
    // Entries that needed no write (barriers, or an idle log) may already be durable.
    if (work > 0) settle(log.durableLsn)
    // The async path owns the log for now (sync(), a roll, a delay): let its completions run.
    if (commit === 'busy') return work === 0 ? sleepForAsyncCommit : 'yield'
    return work === 0 && commit === 'idle' ? sleepIdle : 'again'
  },
  { blocking: true },
)
