/**
 * The producer side of an SPSC ring. Exactly one thread may hold a RingProducer for a given SAB.
 *
 * Ordering argument (why the consumer never sees a half-written record): tryWrite fills header
 * and payload with plain stores into memory the consumer does not look at, because it lies at or
 * beyond the published WRITE counter. publish() then does one Atomics.store of WRITE. Atomics
 * operations are sequentially consistent and synchronize-with each other, so every plain store
 * made before that Atomics.store happens-before any plain load the consumer makes after an
 * Atomics.load that returns the new WRITE (ECMAScript memory model, "happens-before" via
 * synchronizes-with). The consumer reads WRITE with Atomics.load before touching a byte, so it
 * sees whole records or none. The reverse holds for reuse: the consumer finishes with the bytes,
 * then Atomics.stores READ; the producer Atomics.loads READ before overwriting them.
 */
import { attachRing, checkDoorbell } from './create-ring.ts'
import {
  MI_ERR_RING_CLOSED,
  MI_ERR_RING_KIND_INVALID,
  MI_ERR_RING_RECORD_TOO_LARGE,
  MI_ERR_RING_TAG_INVALID,
} from './errors.ts'
import {
  DATA_WAITER,
  END_RESERVE_BYTES,
  HEAD_END,
  HEAD_PAD,
  HEADER_BYTES,
  KIND_SHIFT,
  MAX_KIND,
  READ,
  recordBytes,
  SPACE_WAITER,
  STATE,
  STATE_CLOSED,
  WRITE,
} from './layout.ts'
import { bumpDoorbell, deadlineFor, remainingMs, sleepersOf, sleepOnAsync, type WaitResult } from './wait.ts'

export interface RingProducerOptions {
  /**
   * A shared Int32Array word, bumped (Atomics.add + notify) on every publish() and on close(), so
   * that one consumer can sleep on one word for several rings and other events.
   */
  doorbell?: Int32Array
}

export class RingProducer {
  /** Largest payload tryWrite accepts (capacity / 2 - 8, at most 16 MiB - 8). */
  readonly maxRecordBytes: number

  readonly #ctrl: Int32Array
  readonly #u8: Uint8Array
  readonly #u32: Uint32Array
  readonly #capacity: number
  readonly #mask: number
  /** Bytes usable by records: one END record is always kept free for close(). */
  readonly #usable: number
  readonly #doorbell: Int32Array | undefined
  readonly #doorbellSleepers: Int32Array | undefined
  /** Staged write counter (int32 bits of the u32 counter). */
  #pos: number
  /** Last value stored to WRITE. */
  #published: number
  /** Last READ seen; refreshed only when the cached value says "no room" (saves an Atomics.load). */
  #read: number
  #closed = false
  /** waitForSpace calls in flight: SPACE_WAITER is lowered only when the last one leaves. */
  #spaceWaiters = 0

  constructor(sab: SharedArrayBuffer, opts: RingProducerOptions = {}) {
    const ring = attachRing(sab)
    this.#ctrl = ring.ctrl
    this.#u8 = ring.u8
    this.#u32 = ring.u32
    this.#capacity = ring.capacity
    this.#mask = ring.mask
    this.#usable = ring.capacity - END_RESERVE_BYTES
    this.maxRecordBytes = ring.maxRecordBytes
    this.#doorbell = checkDoorbell(opts.doorbell, 'options.doorbell')
    this.#doorbellSleepers = this.#doorbell && sleepersOf(this.#doorbell)
    this.#pos = Atomics.load(ring.ctrl, WRITE)
    this.#published = this.#pos
    this.#read = Atomics.load(ring.ctrl, READ)
    this.#closed = Atomics.load(ring.ctrl, STATE) === STATE_CLOSED
  }

  /**
   * Stage one record (gathered from `data` when it is an array of parts). Returns false, writing
   * nothing, when it does not fit right now; never blocks. Staged records stay invisible to the
   * consumer until publish().
   */
  tryWrite(kind: number, tag: number, data: Uint8Array | readonly Uint8Array[]): boolean {
    if (this.#closed) throw new MI_ERR_RING_CLOSED('tryWrite after close()')
    if ((kind & 0xff) !== kind || kind > MAX_KIND) throw new MI_ERR_RING_KIND_INVALID(String(kind))
    if (tag >>> 0 !== tag) throw new MI_ERR_RING_TAG_INVALID(String(tag))
    let len: number
    if (data instanceof Uint8Array) {
      len = data.byteLength
    } else {
      len = 0
      for (let i = 0; i < data.length; i++) len += data[i]!.byteLength
    }
    if (len > this.maxRecordBytes) throw new MI_ERR_RING_RECORD_TOO_LARGE(len, this.maxRecordBytes)

    const size = recordBytes(len)
    let pos = this.#pos
    let off = pos & this.#mask
    const tail = this.#capacity - off
    // A record never straddles the end of the region: if it does not fit the tail, a PAD head
    // fills the tail (tail >= 8 because everything is 8-aligned) and the record goes at 0.
    const need = size <= tail ? size : tail + size
    if (((pos - this.#read) >>> 0) + need > this.#usable) {
      this.#read = Atomics.load(this.#ctrl, READ)
      if (((pos - this.#read) >>> 0) + need > this.#usable) return false
    }
    const u32 = this.#u32
    if (size > tail) {
      u32[off >>> 2] = HEAD_PAD
      pos = (pos + tail) | 0
      off = 0
    }
    const w = off >>> 2
    u32[w] = (kind << KIND_SHIFT) | len
    u32[w + 1] = tag
    let at = off + HEADER_BYTES
    const u8 = this.#u8
    if (data instanceof Uint8Array) {
      // TypedArray#set beats a byte loop from 16 bytes up and ties below (measured on Node 24).
      u8.set(data, at)
    } else {
      for (let i = 0; i < data.length; i++) {
        const part = data[i]!
        u8.set(part, at)
        at += part.byteLength
      }
    }
    this.#pos = (pos + size) | 0
    return true
  }

  /** Make every staged record visible: one Atomics.store of WRITE and at most one notify. */
  publish(): void {
    const pos = this.#pos
    if (pos === this.#published) return
    this.#published = pos
    // Orders all plain stores of the staged records before the consumer's Atomics.load of WRITE.
    Atomics.store(this.#ctrl, WRITE, pos)
    // Who waits: the consumer blocked in wait()/waitAsync() on WRITE. It raises DATA_WAITER and
    // then re-reads WRITE before sleeping; we store WRITE and then read DATA_WAITER. Both are
    // seq-cst, so at least one side sees the other's store: either it sees our WRITE and never
    // sleeps, or we see its flag and notify (Dekker). Skipping the notify when nobody sleeps is
    // what makes small batches cheap.
    if (Atomics.load(this.#ctrl, DATA_WAITER) !== 0) Atomics.notify(this.#ctrl, WRITE)
    // The doorbell is bumped on every publish, but notified only while its consumer sleeps.
    if (this.#doorbell !== undefined) bumpDoorbell(this.#doorbell, this.#doorbellSleepers)
  }

  /**
   * Resolve once a record of `bytes` payload bytes fits ('ok'), after `timeoutMs` ('timed-out'), or
   * when this producer is closed ('closed'). Publishes staged records first, since the consumer
   * cannot free space it cannot see. Never blocks the thread (Atomics.waitAsync on READ).
   */
  async waitForSpace(bytes: number, timeoutMs = Number.POSITIVE_INFINITY): Promise<WaitResult> {
    if (this.#closed) return 'closed'
    if (bytes > this.maxRecordBytes) throw new MI_ERR_RING_RECORD_TOO_LARGE(bytes, this.maxRecordBytes)
    this.publish()
    const ctrl = this.#ctrl
    const deadline = deadlineFor(timeoutMs)
    this.#spaceWaiters++
    try {
      for (;;) {
        // Dekker with the consumer's release(): raise the flag, then re-read READ (see publish()).
        Atomics.store(ctrl, SPACE_WAITER, 1)
        const read = Atomics.load(ctrl, READ)
        this.#read = read
        if (this.#fits(bytes)) return 'ok'
        const left = remainingMs(deadline)
        if (left <= 0) return 'timed-out'
        await sleepOnAsync(ctrl, READ, read, left)
        if (this.#closed) return 'closed'
      }
    } finally {
      if (--this.#spaceWaiters === 0) Atomics.store(ctrl, SPACE_WAITER, 0)
    }
  }

  /**
   * Publish what is staged, then append the END record and publish it. The consumer reads every
   * record before END and only then reports `closed`. Wakes this producer's own waitForSpace.
   */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    // END always fits: tryWrite keeps END_RESERVE_BYTES free, and the tail is never < 8 bytes.
    this.#u32[(this.#pos & this.#mask) >>> 2] = HEAD_END
    this.#pos = (this.#pos + HEADER_BYTES) | 0
    const ctrl = this.#ctrl
    Atomics.store(ctrl, STATE, STATE_CLOSED)
    this.publish()
    // Who waits: a consumer that raced its DATA_WAITER flag is already covered by publish(); this
    // extra notify on READ wakes our own waitForSpace (sleeping on READ) so it returns 'closed'.
    Atomics.notify(ctrl, READ)
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Bytes free for records right now (headers and alignment count against it). */
  get freeBytes(): number {
    this.#read = Atomics.load(this.#ctrl, READ)
    return Math.max(0, this.#usable - ((this.#pos - this.#read) >>> 0))
  }

  /**
   * The write counter after the last staged record (bytes since creation, u32 counter as int32
   * bits). Pass it to consumed() later: the engine's fair inbound shares (issue 11) use it to know
   * when one connection's records have all been released.
   */
  get position(): number {
    return this.#pos
  }

  /** True once the consumer has released everything before `position` (a value of `position`). */
  consumed(position: number): boolean {
    this.#read = Atomics.load(this.#ctrl, READ)
    return ((position - this.#read) | 0) <= 0
  }

  /** Bytes staged with tryWrite and not yet published. */
  get stagedBytes(): number {
    return (this.#pos - this.#published) >>> 0
  }

  #fits(len: number): boolean {
    const size = recordBytes(len)
    const tail = this.#capacity - (this.#pos & this.#mask)
    const need = size <= tail ? size : tail + size
    return ((this.#pos - this.#read) >>> 0) + need <= this.#usable
  }
}
