/**
 * The main thread's side of the data path: sockets in, bytes to parser rings, frames back out.
 *
 * The main thread never parses. It copies each socket chunk into the inbound ring of the parser
 * worker that owns the connection, at most a fair share per connection at a time (inbound-share.ts);
 * when that ring is full it pauses the socket and resumes it when the parser frees space (TCP
 * backpressure: memory stays bounded, nothing is dropped). Outbound
 * frames come back through one ring per parser and are gathered into one write per socket per
 * pass, so a burst of ACKs costs one buffer and one syscall.
 */
import type { Socket } from 'node:net'
import { TokenBucket } from '@module-ingest/auth'
import { ErrorCode, encodeError } from '@module-ingest/protocol'
import { type LoopNext, RingBacklog, RingConsumer, RingProducer, runDoorbellLoop } from '@module-ingest/ring'
import { Packr } from 'msgpackr'
import { InboundShares, type ShareConn, type ShareLane } from './inbound-share.ts'
import { type ConnOpen, In, Out } from './messages.ts'
import { OUTPUT_SWEEP_MS, OutputBudget, type OutputConn } from './output-budget.ts'

/** After an ERROR, how long a client gets to close before we do (PROTOCOL.md: at most 2 s). */
const LINGER_MS = 2000
/** Stop reading a socket whose unsent output exceeds this (a client that never reads its ACKs). */
const MAX_UNSENT_BYTES = 1 << 20

export interface ConnectionLimits {
  maxConnections: number
  maxConnectionsPerIp: number
  /** Read rate per client address, enforced by pausing its sockets (0 = unlimited). */
  ipBytesPerSec: number
  /**
   * Unsent output (ACKs, PONGs, ERRORs) all sockets may hold together (half of
   * limits.memoryBudgetBytes; 0 = unbounded). Over it, a connection staying above its fair share
   * for OUTPUT_GRACE_MS is closed with ERROR OVERLOADED.
   */
  outputBudgetBytes?: number
}

interface Conn extends ShareConn, OutputConn {
  id: number
  socket: Socket
  worker: number
  ip: string
  /** Paused because its parser's ring is full (resumed on space). */
  ringPaused: boolean
  /** Paused by a rate limit until this time (ms since epoch). */
  pausedUntil: number
}

interface Lane extends ShareLane<Conn> {
  producer: RingProducer
  consumer: RingConsumer
  /** Records that did not fit the ring yet, in order; while non-empty everything queues here. */
  backlog: RingBacklog
  paused: Set<Conn>
  waiting: boolean
  connections: number
  dirty: boolean
}

export interface ConnectionEvents {
  /** Decide whether a new socket may proceed; return an MIP/1 error code to refuse it. */
  admit(ip: string): number | 0
}

export class Connections {
  readonly #lanes: Lane[]
  readonly #conns = new Map<number, Conn>()
  readonly #perIp = new Map<string, number>()
  readonly #ipBuckets = new Map<string, TokenBucket>()
  readonly #limits: ConnectionLimits
  readonly #events: ConnectionEvents
  readonly #mainDoorbell: Int32Array
  readonly #packr = new Packr({ useRecords: false })
  readonly #shares: InboundShares<Conn, Lane>
  #nextId = 1
  #closed = false
  #accepted = 0
  #refused = 0
  readonly #output: OutputBudget<Conn> | undefined

  constructor(
    rings: Array<{ inbound: SharedArrayBuffer; outbound: SharedArrayBuffer; doorbell: Int32Array }>,
    mainDoorbell: Int32Array,
    limits: ConnectionLimits,
    events: ConnectionEvents,
  ) {
    this.#limits = limits
    this.#events = events
    this.#mainDoorbell = mainDoorbell
    this.#lanes = rings.map((r) => ({
      producer: new RingProducer(r.inbound, { doorbell: r.doorbell }),
      consumer: new RingConsumer(r.outbound),
      // Socket chunks are never reused by node: no copy needed while they wait.
      backlog: new RingBacklog({ copy: false }),
      paused: new Set(),
      waiting: false,
      connections: 0,
      dirty: false,
      turns: [],
    }))
    this.#shares = new InboundShares(this.#lanes, {
      push: (lane, conn, bytes) => this.#push(lane, In.DATA, conn.id, bytes, conn),
      live: (conn) => !conn.ending && !this.#closed && this.#conns.get(conn.id) === conn,
      pause: (conn) => conn.socket.pause(),
      resume: (conn) => this.#maybeResume(conn),
    })
    void this.#pumpOutbound()
    if (limits.outputBudgetBytes) {
      // Shed without the usual linger: a client over its output share is not reading anyway.
      this.#output = new OutputBudget(
        limits.outputBudgetBytes,
        () => this.#conns,
        (conn) => {
          conn.ending = true
          conn.socket.end(
            encodeError(ErrorCode.OVERLOADED, 'output budget exceeded: the client does not read'),
          )
          setTimeout(() => conn.socket.destroy(), OUTPUT_SWEEP_MS).unref()
        },
      )
    }
  }

  get size(): number {
    return this.#conns.size
  }

  /**
   * Connections whose socket is paused because bytes they sent wait for their inbound share
   * (inbound-share.ts): fair queueing at work. Many for long means a parser's ring is the limit.
   */
  waitingForShare(): number {
    let n = 0
    for (const conn of this.#conns.values()) if (conn.rest) n++
    return n
  }

  ipOf(connId: number): string | undefined {
    return this.#conns.get(connId)?.ip
  }

  stats() {
    return {
      connections: this.#conns.size,
      accepted: this.#accepted,
      refused: this.#refused,
      outboundRingUsedBytes: this.#lanes.map((l) => l.consumer.usedBytes),
      backlog: this.#lanes.reduce((n, l) => n + l.backlog.length, 0),
      pausedSockets: this.#lanes.reduce((n, l) => n + l.paused.size, 0),
      /** Unsent output bytes summed at the last budget sweep. */
      unsentBytes: this.#output?.unsentBytes ?? 0,
      /** Connections closed for staying over their share of the output budget. */
      shedOutput: this.#output?.shed ?? 0,
    }
  }

  /** A new socket (after TLS, if any). */
  accept(socket: Socket, tlsIdentity?: string): void {
    const ip = socket.remoteAddress ?? 'unknown'
    if (this.#closed) return refuse(socket, ErrorCode.SHUTTING_DOWN, 'server is shutting down')
    const perIp = this.#perIp.get(ip) ?? 0
    let refusal: number = this.#events.admit(ip)
    if (
      !refusal &&
      (this.#conns.size >= this.#limits.maxConnections || perIp >= this.#limits.maxConnectionsPerIp)
    )
      refusal = ErrorCode.TOO_MANY_CONNECTIONS
    if (refusal) {
      this.#refused++
      return refuse(socket, refusal, REFUSAL_MESSAGE[refusal] ?? 'refused')
    }
    this.#accepted++
    this.#perIp.set(ip, perIp + 1)
    const id = this.#nextId
    this.#nextId = (this.#nextId % 0xfffffffe) + 1
    const worker = this.#leastLoaded()
    const conn: Conn = {
      id,
      socket,
      worker,
      ip,
      ringPaused: false,
      pausedUntil: 0,
      ending: false,
      overShareSince: 0,
      rest: null,
      marks: [],
      inRing: 0,
      queued: false,
    }
    this.#conns.set(id, conn)
    const lane = this.#lanes[worker]!
    lane.connections++
    socket.setNoDelay(true)
    const open: ConnOpen = { remoteAddress: ip, ...(tlsIdentity ? { tlsIdentity } : {}) }
    this.#push(lane, In.OPEN, id, this.#packr.pack(open))
    let bucket: TokenBucket | undefined
    if (this.#limits.ipBytesPerSec > 0) {
      bucket = this.#ipBuckets.get(ip) ?? new TokenBucket({ ratePerSec: this.#limits.ipBytesPerSec })
      this.#ipBuckets.set(ip, bucket)
    }
    socket.on('data', (chunk: Buffer) => {
      if (conn.ending) return
      // Pauses the socket when the chunk is over its share or the ring is full (see #push).
      this.#shares.feed(lane, conn, chunk)
      const ms = bucket?.take(chunk.byteLength) ?? 0
      if (ms > 0) this.#pauseFor(conn, ms)
    })
    socket.on('drain', () => this.#maybeResume(conn))
    socket.on('error', () => {})
    socket.on('close', () => {
      this.#conns.delete(id)
      lane.connections--
      lane.paused.delete(conn)
      const n = (this.#perIp.get(ip) ?? 1) - 1
      if (n === 0) {
        this.#perIp.delete(ip)
        this.#ipBuckets.delete(ip)
      } else this.#perIp.set(ip, n)
      this.#push(lane, In.CLOSE, id, EMPTY)
    })
  }

  /** Stop accepting and stop reading: nothing new enters the rings after this. */
  stopReading(): void {
    this.#closed = true
    for (const conn of this.#conns.values()) conn.socket.pause()
  }

  /** Wait until every socket has closed (clients got their ERROR), up to `timeoutMs`; then destroy. */
  async closeAll(timeoutMs: number): Promise<void> {
    this.#output?.stop()
    const deadline = Date.now() + timeoutMs
    while (this.#conns.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    for (const conn of this.#conns.values()) conn.socket.destroy()
  }

  /** Stop reading a socket for `ms` (rate limits); ring backpressure may keep it paused longer. */
  #pauseFor(conn: Conn, ms: number): void {
    const until = Date.now() + ms
    if (until <= conn.pausedUntil) return
    conn.pausedUntil = until
    conn.socket.pause()
    setTimeout(() => this.#maybeResume(conn), ms).unref()
  }

  /** Resume reading once no reason to pause remains (ring full, rate limit, unread output). */
  #maybeResume(conn: Conn): void {
    if (conn.ending || conn.ringPaused || conn.rest || Date.now() < conn.pausedUntil) return
    if (conn.socket.writableLength >= MAX_UNSENT_BYTES) return
    if (!this.#closed) conn.socket.resume()
  }

  #leastLoaded(): number {
    let best = 0
    for (let i = 1; i < this.#lanes.length; i++) {
      if (this.#lanes[i]!.connections < this.#lanes[best]!.connections) best = i
    }
    return best
  }

  /**
   * Queue a record for a parser; false when it had to wait in the backlog (ring full). With
   * `conn`, a backlogged record also pauses that socket, and does so BEFORE the drain starts: the
   * drain can finish synchronously (the parser freed space in between) and resumes only the sockets
   * already in the paused set, so a socket added after it would stay paused forever.
   */
  #push(lane: Lane, kind: number, tag: number, data: Uint8Array, conn?: Conn): boolean {
    const max = lane.producer.maxRecordBytes
    if (data.byteLength > max) {
      // A ring record holds at most half the ring: split (the parser reassembles frames anyway).
      let ok = true
      for (let at = 0; at < data.byteLength; at += max)
        ok = this.#push(lane, kind, tag, data.subarray(at, at + max), conn) && ok
      return ok
    }
    if (lane.backlog.write(lane.producer, kind, tag, data)) {
      this.#publishSoon(lane)
      return true
    }
    if (conn !== undefined && !conn.ringPaused) {
      conn.ringPaused = true
      lane.paused.add(conn)
      conn.socket.pause()
    }
    if (!lane.waiting) void this.#drainBacklog(lane)
    return false
  }

  /** Publish once per tick per lane: many chunks, one store, one notify. */
  #publishSoon(lane: Lane): void {
    if (lane.dirty) return
    lane.dirty = true
    queueMicrotask(() => {
      lane.dirty = false
      lane.producer.publish()
    })
  }

  async #drainBacklog(lane: Lane): Promise<void> {
    lane.waiting = true
    lane.producer.publish()
    // Synchronous when everything fits now (the parser freed space meanwhile); after a wait, a
    // record queued while the drain was resolving is flushed too before the resume below.
    while (!lane.backlog.flush() && (await lane.backlog.drain()) === 'ok') {}
    lane.producer.publish()
    lane.waiting = false
    this.#shares.flushed(lane, lane.paused)
    for (const conn of lane.paused) {
      conn.ringPaused = false
      this.#maybeResume(conn)
    }
    lane.paused.clear()
  }

  /**
   * Outbound frames are gathered per socket over one pass of a lane (views into the ring, valid
   * until release) and written as ONE buffer per socket: a socket that does not read then holds one
   * Buffer per pass, not one per ACK/PONG. The output budget counts bytes, and small writes cost
   * far more than their bytes: 200,000 writes of 88 bytes held by a socket whose peer does not read
   * took 115 MB of RSS for 17.6 MB of data, the same bytes in 100 writes 14 MB (issue 11.4). A
   * burst of ACKs is also one allocation instead of one per frame.
   */
  #pumpOutbound(): Promise<void> {
    const pending = new Map<Conn, Uint8Array[]>()
    const flush = (conn: Conn, views: Uint8Array[]) => {
      const { socket } = conn
      // Copy: the views' ring bytes are reused after release().
      const bytes = views.length === 1 ? Buffer.from(views[0]!) : Buffer.concat(views)
      if (!socket.write(bytes) && socket.writableLength > MAX_UNSENT_BYTES) socket.pause()
    }
    const visit = (data: Uint8Array, kind: number, tag: number) => {
      const conn = this.#conns.get(tag)
      if (!conn || conn.ending) return
      const { socket } = conn
      if (kind === Out.WRITE) {
        const views = pending.get(conn)
        if (views) views.push(data)
        else pending.set(conn, [data])
        return
      }
      // Anything else acts on the socket: what was gathered for it goes out first, in order.
      const views = pending.get(conn)
      if (views) {
        pending.delete(conn)
        flush(conn, views)
      }
      if (kind === Out.END) {
        conn.ending = true
        socket.end(Buffer.from(data))
        socket.resume() // discard whatever the client still sends
        setTimeout(() => socket.destroy(), LINGER_MS).unref()
      } else if (kind === Out.PAUSE) {
        this.#pauseFor(conn, Buffer.from(data.buffer, data.byteOffset, 4).readUInt32BE(0))
      }
    }
    const idle: LoopNext = { sleepMs: 200 }
    return runDoorbellLoop(this.#mainDoorbell, () => {
      let work = 0
      for (const lane of this.#lanes) {
        work += lane.consumer.read(visit)
        for (const [conn, views] of pending) if (!conn.ending) flush(conn, views)
        pending.clear()
        lane.consumer.release()
      }
      // Busy: socket events get their turn between bursts ('again' yields on the main thread).
      if (work > 0) {
        this.#shares.kick() // output means the parsers consumed input: waiting shares may fit now
        return 'again'
      }
      return this.#closed && this.#conns.size === 0 ? 'stop' : idle
    })
  }
}

const EMPTY = new Uint8Array(0)
const REFUSAL_MESSAGE: Record<number, string> = {
  [ErrorCode.TOO_MANY_CONNECTIONS]: 'connection limit reached',
  [ErrorCode.RATE_LIMITED]: 'too many failed handshakes from this address; try later',
  [ErrorCode.OVERLOADED]: 'the server cannot make data durable right now',
  [ErrorCode.SHUTTING_DOWN]: 'server is shutting down',
}

/** Refuse before WELCOME: send the ERROR, half-close, and give the client LINGER_MS to read it. */
function refuse(socket: Socket, code: number, message: string): void {
  socket.on('error', () => {})
  socket.end(encodeError(code, message))
  socket.resume()
  setTimeout(() => socket.destroy(), LINGER_MS).unref()
}
