/**
 * The client's send window: every admitted frame, in seq order, until the server settles it.
 *
 *   send() ──slot()──▶ (window full? wait in `waiters`) ──admit()──▶ queue[head…] ──▶ ACK ≤ seq: resolve
 *                                                                     │            ──▶ NACK seq: reject
 *                                                                     └─ unsettled(): re-sent after HELLO_OK
 *
 * Only this class touches the queue and the counters, so "in flight" has one definition: frames
 * admitted and not yet settled, plus sends that were woken for a slot and have not admitted yet
 * (`reserved`, so a burst of wakes cannot overfill the window). The connection (client.ts) decides
 * when a frame is written; the window decides when it is done.
 */

export interface Entry {
  seq: bigint
  frame: Buffer
  /** The session the frame's trailer was sealed for; 0 = never written. */
  sealed: number
  settled: boolean
  resolve: (seq: bigint) => void
  reject: (err: Error) => void
}

/** Settled entries at the head are dropped in place; the array is compacted past this many. */
const kCompactAt = 1024

export class SendWindow {
  #queue: Entry[] = []
  #head = 0
  #unsettled = 0
  #reserved = 0
  #waiters: (() => void)[] = []
  #outstanding = new Set<Promise<bigint>>()
  readonly #size: number
  readonly #closed: () => Error | null

  /**
   * @param size frames in flight at most (ConnectOptions.window)
   * @param closed the error a woken send fails with when the client stopped meanwhile, else null
   */
  constructor(size: number, closed: () => Error | null) {
    this.#size = size
    this.#closed = closed
  }

  get inFlight(): number {
    return this.#unsettled
  }

  get waiting(): number {
    return this.#waiters.length
  }

  /** Runs `admit` once a slot is free (at once when one is and nobody waits ahead). */
  slot(admit: () => Promise<bigint>): Promise<bigint> {
    if (this.#waiters.length === 0 && this.#unsettled + this.#reserved < this.#size) return admit()
    const p = new Promise<void>((resolve) => this.#waiters.push(resolve)).then(() => {
      this.#reserved--
      const err = this.#closed()
      if (err) throw err
      return admit()
    })
    // A waiting send counts for flush() too.
    this.#track(p)
    return p
  }

  /** Queue a frame; the promise settles with its ACK or NACK (or rejectAll). */
  admit(seq: bigint, frame: Buffer, sealed: number): { entry: Entry; done: Promise<bigint> } {
    let entry!: Entry
    const done = new Promise<bigint>((resolve, reject) => {
      entry = { seq, frame, sealed, settled: false, resolve, reject }
    })
    this.#queue.push(entry)
    this.#unsettled++
    this.#track(done)
    return { entry, done }
  }

  /** Resolve every queued entry with seq ≤ upTo (cumulative ACK, or HELLO_OK's HWM). Returns how many. */
  settleUpTo(upTo: bigint): number {
    const q = this.#queue
    let h = this.#head
    let acked = 0
    while (h < q.length && q[h]!.seq <= upTo) {
      const e = q[h]!
      if (!e.settled) {
        e.settled = true
        this.#unsettled--
        acked++
        e.resolve(e.seq)
      }
      q[h] = undefined as unknown as Entry
      h++
    }
    this.#head = h
    if (h === q.length) {
      this.#queue = []
      this.#head = 0
    } else if (h >= kCompactAt && h * 2 > q.length) {
      this.#queue = q.slice(h)
      this.#head = 0
    }
    this.#wake()
    return acked
  }

  /** Reject the entry with this seq: 'rejected', 'settled' (already), or 'unknown' (not queued). */
  reject(seq: bigint, err: Error): 'rejected' | 'settled' | 'unknown' {
    const q = this.#queue
    let lo = this.#head
    let hi = q.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const e = q[mid]!
      if (e.seq === seq) {
        if (e.settled) return 'settled'
        e.settled = true
        this.#unsettled--
        e.reject(err)
        this.#wake()
        return 'rejected'
      }
      if (e.seq < seq) lo = mid + 1
      else hi = mid - 1
    }
    return 'unknown'
  }

  /** The entries still to be settled, in seq order: what a new session re-sends. */
  *unsettled(): Generator<Entry> {
    const q = this.#queue
    for (let h = this.#head; h < q.length; h++) if (!q[h]!.settled) yield q[h]!
  }

  /** Reject everything queued; wake every waiting send (it then fails with `closed()`). */
  rejectAll(err: Error): void {
    for (const e of this.unsettled()) {
      e.settled = true
      e.reject(err)
    }
    this.#queue = []
    this.#head = 0
    this.#unsettled = 0
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) {
      this.#reserved++
      w()
    }
  }

  /** Resolves once every send admitted or waiting before this call has settled. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#outstanding])
  }

  get pending(): number {
    return this.#outstanding.size
  }

  #wake(): void {
    while (this.#waiters.length > 0 && this.#unsettled + this.#reserved < this.#size) {
      this.#reserved++
      this.#waiters.shift()!()
    }
  }

  #track(p: Promise<bigint>): void {
    this.#outstanding.add(p)
    const done = () => this.#outstanding.delete(p)
    p.then(done, done)
  }
}
