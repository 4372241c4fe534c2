/**
 * RingBacklog: the records a producer thread could not fit into its rings yet, kept in order and
 * written before anything newer. One per producer thread; it may serve several rings (a parser
 * writes to the main thread's ring and to the writer's), and then keeps the order across them:
 * while anything waits, every new record queues behind it, so a reader of both rings never sees a
 * record before one its producer wrote earlier.
 *
 * Nothing here is shared between threads: the backlog lives on the producer's thread and only
 * calls its RingProducers (tryWrite, publish, waitForSpace), whose slots are documented in
 * producer.ts. A full ring is the consumer's to drain; the backlog only decides who goes first.
 */
import type { RingProducer } from './producer.ts'
import type { WaitResult } from './wait.ts'

type Staged = [ring: RingProducer, kind: number, tag: number, data: Uint8Array | Uint8Array[], bytes: number]

export interface RingBacklogOptions {
  /**
   * Copy records that have to wait (default true): their bytes may be views into memory the
   * caller reuses (another ring's records, a scratch buffer). False when the caller hands over
   * buffers it never touches again (a socket's 'data' chunks).
   */
  copy?: boolean
}

export class RingBacklog {
  readonly #queue: Staged[] = []
  #head = 0
  readonly #copy: boolean

  constructor(opts: RingBacklogOptions = {}) {
    this.#copy = opts.copy ?? true
  }

  /** Records waiting. */
  get length(): number {
    return this.#queue.length - this.#head
  }

  /**
   * Write a record to `ring` now if nothing waits before it and it fits, else queue it. True when
   * it is in the ring (staged: the caller still publishes), false when it waits here.
   */
  write(ring: RingProducer, kind: number, tag: number, data: Uint8Array | Uint8Array[]): boolean {
    if (this.length === 0 && ring.tryWrite(kind, tag, data)) return true
    let bytes = 0
    if (data instanceof Uint8Array) {
      bytes = data.byteLength
      if (this.#copy) data = Uint8Array.prototype.slice.call(data)
    } else {
      for (const p of data) bytes += p.byteLength
      if (this.#copy) data = data.map((p) => Uint8Array.prototype.slice.call(p))
    }
    this.#queue.push([ring, kind, tag, data, bytes])
    return false
  }

  /** Move waiting records into their rings, in order, until one does not fit. True when empty. */
  flush(): boolean {
    const q = this.#queue
    while (this.#head < q.length) {
      const [ring, kind, tag, data] = q[this.#head]!
      if (!ring.tryWrite(kind, tag, data)) break
      q[this.#head++] = undefined as unknown as Staged
    }
    if (this.#head === q.length) q.length = this.#head = 0
    else if (this.#head > 1024) {
      q.splice(0, this.#head)
      this.#head = 0
    }
    return q.length === 0
  }

  /**
   * Flush until empty, publishing and waiting (async, so any thread) for space in the ring at the
   * head; each wait is at most `sliceMs`. Everything it wrote is published when it resolves:
   * 'ok' when empty, 'closed' if the ring at the head was closed.
   */
  async drain(sliceMs = 250): Promise<WaitResult> {
    const rings = new Set<RingProducer>()
    for (let i = this.#head; i < this.#queue.length; i++) rings.add(this.#queue[i]![0])
    try {
      while (!this.flush()) {
        const [ring, , , , bytes] = this.#queue[this.#head]!
        ring.publish()
        if ((await ring.waitForSpace(bytes, sliceMs)) === 'closed') return 'closed'
      }
      return 'ok'
    } finally {
      for (const r of rings) r.publish()
    }
  }
}
