/**
 * The consumer side of an SPSC ring. Exactly one thread may hold a RingConsumer for a given SAB.
 * See producer.ts for the ordering argument: read() starts with an Atomics.load of WRITE and only
 * then looks at record bytes; release() ends with an Atomics.store of READ after the last look.
 */
import { attachRing, checkDoorbell } from './create-ring.ts'
import { MI_ERR_RING_OPT_INVALID } from './errors.ts'
import {
  CONTROL_BYTES,
  DATA_WAITER,
  HEAD_END,
  HEAD_PAD,
  HEADER_BYTES,
  KIND_SHIFT,
  LENGTH_MASK,
  READ,
  recordBytes,
  SPACE_WAITER,
  WRITE,
} from './layout.ts'
import {
  deadlineFor,
  remainingMs,
  sleepOn,
  sleepOnAsync,
  sleepOnDoorbell,
  sleepOnDoorbellAsync,
  type WaitResult,
} from './wait.ts'

export interface RingConsumerOptions {
  /**
   * The doorbell word the producer(s) ring. With it, wait()/waitAsync() sleep on the doorbell
   * instead of this ring's WRITE counter, and return 'ok' whenever it rings, so the caller can
   * look at every ring (or event) sharing it. Without it they sleep on this ring alone.
   */
  doorbell?: Int32Array
  /**
   * How long wait() polls the ring before it goes to sleep, in microseconds (default 0: sleep at
   * once). With a dedicated core, polling through the few-microsecond gaps between publishes of a
   * streaming producer saves it a futex wake per publish. On an oversubscribed box the poll steals
   * the producer's CPU instead: on the shared 2-core dev machine 20 and 100 µs measured no better
   * than 0, so it is opt-in. waitAsync() never spins: the main thread must stay responsive.
   */
  spinUs?: number
}

export const DEFAULT_SPIN_US = 0

/** Called once per record; `data` is a view into the ring, valid until release(). */
// biome-ignore lint/suspicious/noConfusingVoidType: a visitor that returns nothing must type-check
export type RecordVisitor = (data: Uint8Array, kind: number, tag: number) => boolean | void

type Poll = 'ok' | 'closed' | 'empty'

export class RingConsumer {
  readonly maxRecordBytes: number

  readonly #ctrl: Int32Array
  readonly #buffer: SharedArrayBuffer
  readonly #u32: Uint32Array
  readonly #capacity: number
  readonly #mask: number
  readonly #doorbell: Int32Array | undefined
  /** Read counter: everything before it has been visited (int32 bits of the u32 counter). */
  #pos: number
  /** Last value stored to READ. */
  #released: number
  /** Set once the END record has been read: nothing can follow it. */
  #ended = false
  /** wait/waitAsync calls in flight: DATA_WAITER is lowered only when the last one leaves. */
  #dataWaiters = 0
  readonly #spinMs: number

  constructor(sab: SharedArrayBuffer, opts: RingConsumerOptions = {}) {
    const ring = attachRing(sab)
    this.#ctrl = ring.ctrl
    this.#buffer = sab
    this.#u32 = ring.u32
    this.#capacity = ring.capacity
    this.#mask = ring.mask
    this.maxRecordBytes = ring.maxRecordBytes
    this.#doorbell = checkDoorbell(opts.doorbell, 'options.doorbell')
    const spinUs = opts.spinUs ?? DEFAULT_SPIN_US
    if (!(spinUs >= 0 && spinUs <= 1e6))
      throw new MI_ERR_RING_OPT_INVALID('options.spinUs', 'a number from 0 to 1e6')
    this.#spinMs = spinUs / 1000
    this.#pos = Atomics.load(ring.ctrl, READ)
    this.#released = this.#pos
  }

  /**
   * Visit up to `maxRecords` published records in order, with zero-copy views valid until
   * release(). `visit` may return false to stop after the current record. Returns the number of
   * records visited. A record whose visit throws counts as read (no poison-pill loop).
   */
  read(visit: RecordVisitor, maxRecords = Number.POSITIVE_INFINITY): number {
    if (this.#ended) return 0
    // The one Atomics.load that orders all the plain loads below after the producer's stores.
    const write = Atomics.load(this.#ctrl, WRITE)
    const u32 = this.#u32
    const mask = this.#mask
    const buffer = this.#buffer
    let pos = this.#pos
    let n = 0
    try {
      while (pos !== write) {
        const off = pos & mask
        const w = off >>> 2
        const head = u32[w]!
        if (head === HEAD_PAD) {
          pos = (pos + this.#capacity - off) | 0
          continue
        }
        if (head === HEAD_END) {
          pos = (pos + HEADER_BYTES) | 0
          this.#ended = true
          break
        }
        if (n >= maxRecords) break
        const len = head & LENGTH_MASK
        pos = (pos + recordBytes(len)) | 0
        n++
        if (
          visit(
            new Uint8Array(buffer, CONTROL_BYTES + off + HEADER_BYTES, len),
            head >>> KIND_SHIFT,
            u32[w + 1]!,
          ) === false
        ) {
          break
        }
      }
    } finally {
      this.#pos = pos
    }
    return n
  }

  /** Free everything read so far: one Atomics.store of READ and, if the producer sleeps, one notify. */
  release(): void {
    const pos = this.#pos
    if (pos === this.#released) return
    this.#released = pos
    // Orders our last look at the released bytes before the producer's Atomics.load of READ.
    Atomics.store(this.#ctrl, READ, pos)
    // Who waits: the producer in waitForSpace(), sleeping on READ with SPACE_WAITER raised (the
    // mirror of the Dekker pair in RingProducer.publish()).
    if (Atomics.load(this.#ctrl, SPACE_WAITER) !== 0) Atomics.notify(this.#ctrl, READ)
  }

  /**
   * Block until there is something to read ('ok'), the ring is closed and drained ('closed'), or
   * `timeoutMs` passes ('timed-out'). Uses Atomics.wait: worker threads only. With a doorbell,
   * 'ok' also means "another ring or event on the doorbell rang".
   */
  wait(timeoutMs: number): WaitResult {
    const deadline = deadlineFor(timeoutMs)
    const doorbell = this.#doorbell
    const ctrl = this.#ctrl
    // Snapshot once, before the first check: a publish on any ring sharing the doorbell after
    // this line changes the word we sleep on, so it can never be slept through.
    const snapshot = doorbell === undefined ? 0 : Atomics.load(doorbell, 0)
    if (this.#spinMs > 0 && !this.#ended) this.#spin(doorbell, snapshot, Math.min(this.#spinMs, timeoutMs))
    for (;;) {
      if (doorbell !== undefined) {
        const state = this.#poll()
        if (state !== 'empty') return state
        if (Atomics.load(doorbell, 0) !== snapshot) return 'ok'
        const left = remainingMs(deadline)
        if (left <= 0) return 'timed-out'
        sleepOnDoorbell(doorbell, snapshot, left)
        continue
      }
      // Dekker with publish(): raise DATA_WAITER, then re-read WRITE; sleep only on that value.
      this.#raiseDataWaiter()
      try {
        const write = Atomics.load(ctrl, WRITE)
        const state = this.#poll()
        if (state !== 'empty') return state
        const left = remainingMs(deadline)
        if (left <= 0) return 'timed-out'
        sleepOn(ctrl, WRITE, write, left)
      } finally {
        this.#lowerDataWaiter()
      }
    }
  }

  /** The non-blocking wait(), for the main thread. Same results. */
  async waitAsync(timeoutMs: number): Promise<WaitResult> {
    const deadline = deadlineFor(timeoutMs)
    const doorbell = this.#doorbell
    const ctrl = this.#ctrl
    const snapshot = doorbell === undefined ? 0 : Atomics.load(doorbell, 0)
    for (;;) {
      if (doorbell !== undefined) {
        const state = this.#poll()
        if (state !== 'empty') return state
        if (Atomics.load(doorbell, 0) !== snapshot) return 'ok'
        const left = remainingMs(deadline)
        if (left <= 0) return 'timed-out'
        await sleepOnDoorbellAsync(doorbell, snapshot, left)
        continue
      }
      this.#raiseDataWaiter()
      try {
        const write = Atomics.load(ctrl, WRITE)
        const state = this.#poll()
        if (state !== 'empty') return state
        const left = remainingMs(deadline)
        if (left <= 0) return 'timed-out'
        await sleepOnAsync(ctrl, WRITE, write, left)
      } finally {
        this.#lowerDataWaiter()
      }
    }
  }

  /**
   * True only once the producer closed AND every record before its END has been read. Reading
   * the END costs no read() call: it is picked up here when it is next in line.
   */
  get closed(): boolean {
    return this.#poll() === 'closed'
  }

  /** Published bytes not yet released (records read but not released still count). */
  get usedBytes(): number {
    return (Atomics.load(this.#ctrl, WRITE) - this.#released) >>> 0
  }

  /** Poll WRITE (and the doorbell) for up to `ms` without raising DATA_WAITER; read-only. */
  #spin(doorbell: Int32Array | undefined, bell: number, ms: number): void {
    const ctrl = this.#ctrl
    const pos = this.#pos
    const until = performance.now() + ms
    for (;;) {
      for (let i = 0; i < 64; i++) {
        if (Atomics.load(ctrl, WRITE) !== pos) return
        if (doorbell !== undefined && Atomics.load(doorbell, 0) !== bell) return
      }
      if (performance.now() >= until) return
    }
  }

  #raiseDataWaiter(): void {
    if (this.#dataWaiters++ === 0) Atomics.store(this.#ctrl, DATA_WAITER, 1)
  }

  #lowerDataWaiter(): void {
    if (--this.#dataWaiters === 0) Atomics.store(this.#ctrl, DATA_WAITER, 0)
  }

  /**
   * Skip PAD and consume END when they are next, then say whether a record is waiting. Neither is
   * a record, so stepping over them never loses or duplicates one.
   */
  #poll(): Poll {
    if (this.#ended) return 'closed'
    const write = Atomics.load(this.#ctrl, WRITE)
    let pos = this.#pos
    while (pos !== write) {
      const off = pos & this.#mask
      const head = this.#u32[off >>> 2]!
      if (head === HEAD_PAD) {
        pos = (pos + this.#capacity - off) | 0
      } else if (head === HEAD_END) {
        this.#pos = (pos + HEADER_BYTES) | 0
        this.#ended = true
        return 'closed'
      } else {
        this.#pos = pos
        return 'ok'
      }
    }
    this.#pos = pos
    return 'empty'
  }
}
