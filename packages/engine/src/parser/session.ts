/**
 * One client connection as a parser worker sees it: framing, the handshake state machine, seq rules
 * and dedupe, and the bookkeeping that turns the writer's durable watermark into cumulative ACKs.
 *
 * Everything here runs on the parser worker's single thread; the worker owns the rings and hands a
 * Conn the bytes of its socket in order.
 */
import { randomBytes } from 'node:crypto'
import { type CredentialStore, type Identity, TokenBucket } from '@module-ingest/auth'
import { AppendEncoder } from '@module-ingest/log/entry'
import {
  decodeBatch,
  decodeHello,
  decodeRecord,
  ErrorCode,
  encodeAck,
  encodeError,
  encodeHelloOk,
  encodeNack,
  encodePong,
  encodeWelcome,
  type Frame,
  FrameDecoder,
  FrameType,
  isReservedModuleName,
  MAX_HELLO_PAYLOAD,
  matchScope,
  ProtocolError,
} from '@module-ingest/protocol'
import { nowUs } from '../messages.ts'

/**
 * Accepted frames leave the parser as the log's own record bytes (CRC included), so the writer
 * thread, which every record passes through, only copies them (packages/log "Parse once"). One
 * encoder per thread: a frame is encoded and handed over before the next one is parsed.
 */
const encoder = new AppendEncoder()

/** One message for every handshake failure: nothing tells an unknown module from a wrong secret. */
export const AUTH_FAILED_MESSAGE = 'authentication failed'

export const State = {
  /** WELCOME sent, waiting for HELLO. */
  HANDSHAKE: 0,
  /** HELLO verified; waiting for the module claim (older session's data durable). */
  CLAIMING: 1,
  OPEN: 2,
  /** A fatal ERROR was sent or the socket closed: every further byte is discarded. */
  DEAD: 3,
} as const
type State = (typeof State)[keyof typeof State]

export interface SessionLimits {
  maxFrame: number
  serverName: string
  heartbeatMs: number
  /** Per-module read rates enforced by pausing the socket (0 = unlimited). */
  moduleBytesPerSec: number
  moduleMsgsPerSec: number
  /**
   * This worker's share of the global budget for bytes buffered in partly received frames
   * (limits.memoryBudgetBytes). Over it, the newest connections holding partial frames are shed.
   */
  partialFrameBudgetBytes: number
  /** Failed handshakes per minute from one address before RATE_LIMITED (limits.failedHandshakesPerMinute). */
  failedHandshakesPerMinute: number
}

/** What a Conn needs from its worker: rings, claims, metrics. Kept narrow so sessions test alone. */
export interface SessionHost {
  readonly limits: SessionLimits
  readonly credentials: CredentialStore
  /** Queue bytes for the socket. */
  send(conn: Conn, bytes: Uint8Array): void
  /** Queue a fatal ERROR; the main thread half-closes after writing it. */
  end(conn: Conn, bytes: Uint8Array): void
  /** Stop reading this connection's socket for `ms` (rate limit). */
  pause(conn: Conn, ms: number): void
  /**
   * Hand an accepted frame to the writer as an encoded append (the parts, concatenated; they are
   * valid only during the call); returns the writer-ring entry index it got.
   */
  accept(conn: Conn, encoded: Uint8Array[]): number
  isDurable(entry: number): boolean
  claim(conn: Conn, module: string): void
  authFailed(conn: Conn, reason: string): void
  /** Whether a HELLO from this connection's address must be refused (RATE_LIMITED) unverified. */
  throttled(conn: Conn): boolean
  markPending(conn: Conn): void
  countError(code: number): void
  countFrame(records: number, bytes: number): void
}

export class Conn {
  readonly id: number
  readonly remoteAddress: string
  readonly tlsIdentity: string | undefined
  readonly decoder: FrameDecoder
  readonly nonce = randomBytes(16)
  readonly openedAt = performance.now()
  lastFrameAt = performance.now()
  /** Receive time of the chunk being parsed (µs): the `rts` of every frame in it. */
  chunkRtsUs = 0
  state: State = State.HANDSHAKE
  module = ''
  core = ''
  moduleBuf: Buffer = Buffer.alloc(0)
  coreBuf: Buffer = Buffer.alloc(0)
  scopes: readonly string[] = []
  macKey: Uint8Array | null = null
  private pendingMacKey: Uint8Array | null = null
  private mac = false
  /** Who the handshake admitted; kept to re-check the session when credentials reload. */
  identity: Identity | null = null
  /** Highest seq accepted on this session (seeded from HELLO_OK's high-water mark). */
  hwm = 0n
  /** Highest seq the client sent on this session: ACKs never exceed it. */
  maxSent = 0n
  /** The last cumulative ACK sent. */
  acked = 0n
  #bytesBucket: TokenBucket | null = null
  #msgsBucket: TokenBucket | null = null
  /** Frames waiting for durability, as parallel arrays (entry index, seq, accepted-at ms). */
  private pendEntry: number[] = []
  private pendSeq: bigint[] = []
  private pendAt: number[] = []
  private pendHead = 0
  /** The writer entry of this connection's newest accepted frame; 0 = none outstanding. */
  private lastEntry = 0
  /** Decoder bytes last counted in the worker's partial-frame budget. */
  accountedBytes = 0

  constructor(id: number, remoteAddress: string, tlsIdentity: string | undefined, maxFrame: number) {
    this.id = id
    this.remoteAddress = remoteAddress
    this.tlsIdentity = tlsIdentity
    // Before HELLO_OK only a HELLO may come: cap frames at its real maximum (raised in claimed()).
    this.decoder = new FrameDecoder({ maxFrame: Math.min(maxFrame, MAX_HELLO_PAYLOAD), role: 'server' })
  }

  get dead(): boolean {
    return this.state === State.DEAD
  }

  /** Whether a frame still waiting for durability was handed to the writer at or before `entry`. */
  hasPendingUpTo(entry: number): boolean {
    return this.hasPending && ((entry - this.pendEntry[this.pendHead]!) | 0) >= 0
  }

  get hasPending(): boolean {
    return this.pendHead < this.pendEntry.length
  }

  welcome(host: SessionHost): void {
    host.send(
      this,
      encodeWelcome({
        server: host.limits.serverName,
        proto: 1,
        nonce: this.nonce,
        auth: ['token', 'hmac'],
        compression: ['zstd'],
        max_frame: host.limits.maxFrame,
        heartbeat_ms: host.limits.heartbeatMs,
      }),
    )
  }

  /** Feed raw socket bytes. The chunk may be reused by the caller as soon as this returns. */
  receive(host: SessionHost, chunk: Uint8Array): void {
    if (this.state === State.DEAD) return
    let frames = 0
    // One clock read per chunk, not per frame: a chunk's frames arrived together.
    this.chunkRtsUs = nowUs()
    try {
      this.decoder.push(chunk)
      let frame: Frame | null
      // biome-ignore lint/suspicious/noAssignInExpressions: the decoder's iteration idiom
      while (!this.dead && (frame = this.decoder.next()) !== null) {
        frames++
        this.onFrame(host, frame)
      }
      if (frames > 0) this.lastFrameAt = performance.now()
    } catch (err) {
      if (err instanceof ProtocolError && err.fatal) this.fail(host, err.code, err.message)
      else this.fail(host, ErrorCode.BAD_FRAME, 'internal error while decoding')
    }
    // Rate limits never drop or reject: the socket just stops being read for a while.
    if (this.#bytesBucket || this.#msgsBucket) {
      const ms = Math.max(this.#bytesBucket?.take(chunk.byteLength) ?? 0, this.#msgsBucket?.take(frames) ?? 0)
      if (ms > 0 && !this.dead) host.pause(this, ms)
    }
  }

  private onFrame(host: SessionHost, frame: Frame): void {
    if (this.state !== State.OPEN) {
      if (frame.type === FrameType.HELLO && this.state === State.HANDSHAKE) return this.onHello(host, frame)
      return this.fail(host, ErrorCode.AUTH_REQUIRED, 'HELLO first, and only once')
    }
    switch (frame.type) {
      case FrameType.DATA:
      case FrameType.BATCH:
        return this.onData(host, frame)
      case FrameType.PING:
        host.send(this, encodePong(frame.seq, frame.payload, this.macKey ?? undefined))
        return
      case FrameType.PONG:
        return
      default:
        // HELLO again (the decoder already refused every type a client never sends).
        return this.fail(host, ErrorCode.AUTH_REQUIRED, 'the session is already authenticated')
    }
  }

  private onHello(host: SessionHost, frame: Frame): void {
    // Checked at every HELLO, not only at accept: sockets opened before the address went over its
    // limit must not each get a guess (issue 11.12).
    if (host.throttled(this)) {
      return this.fail(
        host,
        ErrorCode.RATE_LIMITED,
        'too many failed handshakes from this address; try later',
      )
    }
    let hello: ReturnType<typeof decodeHello>
    try {
      hello = decodeHello(frame.payload)
    } catch {
      host.authFailed(this, 'malformed-hello')
      return this.fail(host, ErrorCode.AUTH_FAILED, AUTH_FAILED_MESSAGE)
    }
    // The server's own namespace (mi:…): refused before any credential is consulted, so no pattern
    // (not even the dev `*`) can admit it (issue 11.11).
    if (isReservedModuleName(hello.module)) {
      host.authFailed(this, 'reserved-module')
      return this.fail(host, ErrorCode.AUTH_FAILED, AUTH_FAILED_MESSAGE)
    }
    const verdict = host.credentials.verifyHello(hello, {
      nonce: this.nonce,
      remoteAddress: this.remoteAddress,
      ...(this.tlsIdentity ? { tlsIdentity: this.tlsIdentity } : {}),
    })
    if (!verdict.ok) {
      host.authFailed(this, verdict.reason)
      return this.fail(host, ErrorCode.AUTH_FAILED, AUTH_FAILED_MESSAGE)
    }
    const { identity } = verdict
    this.module = identity.module
    this.core = identity.core
    this.moduleBuf = Buffer.from(this.module, 'latin1')
    this.coreBuf = Buffer.from(this.core, 'latin1')
    this.scopes = identity.scopes
    this.mac = identity.mac
    this.pendingMacKey = identity.mac ? (identity.sessionKey ?? null) : null
    this.identity = identity
    this.state = State.CLAIMING
    host.claim(this, this.module)
  }

  /** The module claim came back: everything any older session accepted is durable, `hwm` is exact. */
  claimed(host: SessionHost, hwm: bigint): void {
    if (this.state !== State.CLAIMING) return
    this.hwm = hwm
    this.state = State.OPEN
    this.decoder.setMaxFrame(host.limits.maxFrame)
    const { moduleBytesPerSec, moduleMsgsPerSec } = host.limits
    if (moduleBytesPerSec > 0) this.#bytesBucket = new TokenBucket({ ratePerSec: moduleBytesPerSec })
    if (moduleMsgsPerSec > 0) this.#msgsBucket = new TokenBucket({ ratePerSec: moduleMsgsPerSec })
    host.send(
      this,
      encodeHelloOk(hwm, { session: `${this.module}/${this.id}`, scopes: [...this.scopes], mac: this.mac }),
    )
    // MAC covers every frame after HELLO_OK, in both directions.
    if (this.pendingMacKey) {
      this.macKey = this.pendingMacKey
      this.decoder.setMacKey(this.macKey)
    }
  }

  private onData(host: SessionHost, frame: Frame): void {
    const seq = frame.seq
    if (seq > this.maxSent) this.maxSent = seq
    // NACK checks come before dedupe so a rejection is permanent: resending the same bytes must get
    // the same answer even after the high-water mark has moved past its seq.
    if (seq === 0n) return this.nack(host, seq, ErrorCode.BAD_SEQ, 'seq must be >= 1')
    const payload = frame.payload
    let records = 1
    // The records are encoded for the log as they are checked; a NACK or a duplicate drops that.
    const rts = this.chunkRtsUs
    encoder.begin(rts)
    try {
      if (frame.type === FrameType.DATA) {
        const record = decodeRecord(payload)
        if (!matchScope(this.scopes, 'write', record.stream))
          return this.nack(host, seq, ErrorCode.FORBIDDEN, `no write scope for stream ${record.stream}`)
        // ts 0 means "stamp it with the receive time" (PROTOCOL.md).
        encoder.add(record.stream, record.ts === 0 ? rts : record.ts, record.body)
      } else {
        const batch = decodeBatch(payload, frame.flags, host.limits.maxFrame)
        records = batch.length
        for (const record of batch) {
          if (!matchScope(this.scopes, 'write', record.stream))
            return this.nack(host, seq, ErrorCode.FORBIDDEN, `no write scope for stream ${record.stream}`)
          encoder.add(record.stream, record.ts === 0 ? rts : record.ts, record.body)
        }
      }
    } catch (err) {
      if (err instanceof ProtocolError && !err.fatal) return this.nack(host, seq, err.code, err.message)
      throw err
    }
    host.countFrame(records, frame.payload.byteLength)
    if (seq <= this.hwm) return this.settle(host, seq) // duplicate: settled, not stored again
    this.hwm = seq
    const entry = host.accept(this, encoder.finish(this.moduleBuf, this.coreBuf, seq))
    this.lastEntry = entry
    this.pendEntry.push(entry)
    this.pendSeq.push(seq)
    this.pendAt.push(performance.now())
    host.markPending(this)
  }

  private nack(host: SessionHost, seq: bigint, code: number, message: string): void {
    host.countError(code)
    host.send(this, encodeNack(seq, code, message, this.macKey ?? undefined))
    this.settle(host, seq)
  }

  /** A frame settled without a write (duplicate or NACK): ACK it once everything before it is. */
  private settle(host: SessionHost, seq: bigint): void {
    if (this.hasPending) {
      this.pendEntry.push(this.lastEntry)
      this.pendSeq.push(seq)
      this.pendAt.push(Number.NaN)
      return
    }
    this.ackTo(host, seq)
  }

  /**
   * Pop every frame the writer made durable and send one cumulative ACK for them. The ACK covers
   * the highest seq popped, not the last one: settled entries (a NACKed seq 0, a duplicate of an
   * older seq) sit in the queue behind higher accepted seqs, and ACKs are cumulative (PROTOCOL.md).
   */
  drainDurable(host: SessionHost, onLatencyMs: (ms: number) => void): void {
    let seq = -1n
    const now = performance.now()
    while (this.pendHead < this.pendEntry.length && host.isDurable(this.pendEntry[this.pendHead]!)) {
      const popped = this.pendSeq[this.pendHead]!
      if (popped > seq) seq = popped
      const at = this.pendAt[this.pendHead]!
      if (!Number.isNaN(at)) onLatencyMs(now - at)
      this.pendHead++
    }
    if (this.pendHead === this.pendEntry.length) {
      this.pendEntry.length = this.pendSeq.length = this.pendAt.length = this.pendHead = 0
    } else if (this.pendHead > 4096) {
      this.pendEntry.splice(0, this.pendHead)
      this.pendSeq.splice(0, this.pendHead)
      this.pendAt.splice(0, this.pendHead)
      this.pendHead = 0
    }
    if (seq >= 0n && this.state !== State.DEAD) this.ackTo(host, seq)
  }

  private ackTo(host: SessionHost, seq: bigint): void {
    if (seq <= this.acked) return
    this.acked = seq > this.maxSent ? this.maxSent : seq
    host.send(this, encodeAck(this.acked, this.macKey ?? undefined))
  }

  /** Send a fatal ERROR and stop reading. Accepted frames still become durable. */
  fail(host: SessionHost, code: number, message: string): void {
    if (this.state === State.DEAD) return
    host.countError(code)
    this.state = State.DEAD
    host.end(this, encodeError(code, message, this.macKey ?? undefined))
  }

  /** The socket is gone: no more ACKs will be sent. */
  close(): void {
    this.state = State.DEAD
  }
}
