/**
 * Fair shares of a parser's inbound ring (issue 11): one connection cannot fill the ring while
 * others wait behind it.
 *
 * The ring is FIFO: a frame waits behind every byte queued before it. Without shares a socket
 * flooding cheap frames (PINGs, tiny DATA) put a whole socket read (64 KiB) into the ring on every
 * read, the ring stayed full of them, and a well-behaved client's DATA waited behind megabytes of
 * PINGs (ack p99 391 ms during the attack-budget benchmark, 17 ms alone). Here each connection may
 * have at most `share` bytes in the ring that the parser has not released yet. Bytes a socket read
 * beyond that wait with the connection (its socket paused: TCP backpressure, nothing dropped) and
 * go in one share per turn, round robin, as the parser releases the connection's earlier bytes.
 * So a frame waits behind at most one share per other busy connection of its parser, not behind a
 * full ring, and a connection that is alone still gets a quarter of the ring per turn.
 */
import type { RingProducer } from '@module-ingest/ring'

/**
 * The smallest share. It trades a flooder's head start against pause/resume churn of busy clients:
 * at 16 KiB a client with ~38 KB in flight (256 × 128 B frames) was paused on every read and
 * throughput-128-c100 fell to ×0.68-0.82 of the build without shares; at 48 KiB it was ×0.89-0.95
 * (×0.85-0.90 with shares off, so the rest is noise or other work) and a good client's ack p99
 * under attack-budget was 102-150 ms against 19-23 ms alone (16 KiB: 73-79 ms; no shares: 550 ms).
 * Quiet machine, `node benchmarks/src/run.ts throughput-128-c100 --targets ours,ours-base --base
 * <checkout>` and `attack-budget --targets ours`.
 */
export const MIN_SHARE_BYTES = 48 * 1024

/** Bytes one connection may have unreleased in a ring of `capacity` shared by `connections`. */
export function shareBytes(capacity: number, connections: number): number {
  return Math.max(MIN_SHARE_BYTES, Math.floor(capacity / 4 / Math.max(1, connections)))
}

export interface ShareConn {
  /** Bytes read from the socket that did not get a share yet (the socket is paused meanwhile). */
  rest: Uint8Array | null
  /**
   * Its records the parser has not released, oldest first, flat: [end, bytes, end, bytes, ...]
   * with end = RingProducer.position after the record (NaN while it waits in the backlog).
   */
  marks: number[]
  /** Sum of the bytes in `marks`. */
  inRing: number
  /** In its lane's turn queue. */
  queued: boolean
}

export interface ShareLane<C> {
  producer: RingProducer
  /** Connections on this lane (idle ones too): the share is the ring divided among them. */
  connections: number
  /** The lane's backlog is draining (ring full): wait for it rather than grow it. */
  waiting: boolean
  turns: C[]
}

export interface ShareHost<C, L> {
  /** Put bytes in the lane's ring (or its backlog; false then, and the socket is paused). */
  push(lane: L, conn: C, bytes: Uint8Array): boolean
  /** Still open and reading (not ending, not closed, not shutting down). */
  live(conn: C): boolean
  pause(conn: C): void
  /** Its rest went in: resume the socket unless another reason holds it. */
  resume(conn: C): void
}

export class InboundShares<C extends ShareConn, L extends ShareLane<C>> {
  readonly #host: ShareHost<C, L>
  readonly #lanes: L[]
  #timer: ReturnType<typeof setTimeout> | ReturnType<typeof setImmediate> | undefined

  constructor(lanes: L[], host: ShareHost<C, L>) {
    this.#lanes = lanes
    this.#host = host
  }

  /** A socket chunk: what fits the connection's share goes in now, the rest waits its turn. */
  feed(lane: L, conn: C, chunk: Uint8Array): void {
    conn.rest = conn.rest ? Buffer.concat([conn.rest, chunk]) : chunk
    if (!conn.queued) this.#grant(lane, conn)
    if (conn.rest && !conn.queued) {
      this.#host.pause(conn)
      conn.queued = true
      lane.turns.push(conn)
      this.#schedule(false)
    }
  }

  /** The lane's backlog flushed: every connection that waited in it has its bytes before `position`. */
  flushed(lane: L, conns: Iterable<C>): void {
    const end = lane.producer.position
    for (const conn of conns)
      for (let i = 0; i < conn.marks.length; i += 2) if (Number.isNaN(conn.marks[i])) conn.marks[i] = end
    if (lane.turns.length > 0) this.#schedule(true)
  }

  /** The parser has been releasing (the outbound pump saw its output): run a round soon. */
  kick(): void {
    if (this.#lanes.some((l) => l.turns.length > 0)) this.#schedule(true)
  }

  /** Give `conn` its share if the parser released its earlier bytes; true if bytes went in. */
  #grant(lane: L, conn: C): boolean {
    if (lane.waiting) return false
    const { marks } = conn
    let done = 0
    while (done < marks.length && !Number.isNaN(marks[done]) && lane.producer.consumed(marks[done]!)) {
      conn.inRing -= marks[done + 1]!
      done += 2
    }
    if (done > 0) marks.splice(0, done)
    const room = shareBytes(lane.producer.maxRecordBytes * 2, lane.connections) - conn.inRing
    const rest = conn.rest!
    if (room <= 0) return false
    const bytes = rest.byteLength <= room ? rest : rest.subarray(0, room)
    conn.rest = bytes === rest ? null : rest.subarray(room)
    conn.inRing += bytes.byteLength
    // The mark goes in BEFORE push(): backlogged (false), it stays NaN until flushed() knows the
    // backlog is in the ring, and the drain may finish inside push() (the parser freed space
    // meanwhile), calling flushed() before push() returns. A mark added after that stayed NaN for
    // good: the connection's bytes never counted as released and, a share later, it waited with
    // its socket paused forever (one connection's whole window unacknowledged in the quick
    // benchmark under CPU contention; test/inbound-share-sync-drain.test.ts).
    const at = marks.length
    marks.push(Number.NaN, bytes.byteLength)
    if (this.#host.push(lane, conn, bytes)) marks[at] = lane.producer.position
    return true
  }

  /** One round over every lane's queue: each waiting connection gets at most one share. */
  #round = (): void => {
    this.#timer = undefined
    let moved = false
    let left = false
    for (const lane of this.#lanes) {
      for (let n = lane.turns.length; n > 0; n--) {
        const conn = lane.turns.shift()!
        if (!this.#host.live(conn)) {
          conn.queued = false
          conn.rest = null
          continue
        }
        if (this.#grant(lane, conn)) moved = true
        if (conn.rest) lane.turns.push(conn)
        else {
          conn.queued = false
          this.#host.resume(conn)
        }
      }
      if (lane.turns.length > 0) left = true
    }
    if (left) this.#schedule(moved)
  }

  /**
   * After progress, the next round runs after pending socket events (setImmediate: a client that
   * just sent gets its read in before the flooders' next shares); without progress the parser has
   * not released anything yet, so check again in a millisecond instead of spinning.
   */
  #schedule(soon: boolean): void {
    if (this.#timer !== undefined) return
    this.#timer = soon ? setImmediate(this.#round) : setTimeout(this.#round, 1)
  }
}
