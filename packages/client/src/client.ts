import { EventEmitter } from 'node:events'
import {
  DEFAULT_MAX_FRAME,
  dataFrameSize,
  decodeHelloOk,
  decodeNackOrError,
  decodeWelcome,
  ErrorCode,
  encodeFrame,
  encodeHello,
  FrameType,
  ProtocolError,
  type RecordInput,
  type Welcome,
  writeData,
} from '@module-ingest/protocol'
import { Connection, diagnose } from './connection.ts'
import {
  fatalError,
  MI_ERR_CLIENT_CLOSED,
  MI_ERR_CLIENT_CONNECT_TIMEOUT,
  MI_ERR_CLIENT_GAVE_UP,
  nackError,
  PERMANENT_CODES,
  transientError,
  type WireCodedError,
} from './errors.ts'
import { batchPayload, checkRecord, reseal } from './frames.ts'
import { helloFor, macKeyFor } from './handshake.ts'
import { type ConnectOptions, type ResolvedOptions, resolveOptions } from './options.ts'
import type { BatchOptions, ClientStats, ConnectedInfo, SendOptions } from './types.ts'
import { type Entry, SendWindow } from './window.ts'

/**
 * Session lifecycle and resume rule (PROTOCOL.md "Sequence, acks and durability"):
 *
 *   connect ─▶ WELCOME ─▶ HELLO ─▶ HELLO_OK(seq = HWM) ─▶ ready ──(loss / transient ERROR)──▶ backoff ─┐
 *      ▲                                                                                               │
 *      └───────────────────────────────────────────────────────────────────────────────────────────────┘
 *
 * Every admitted frame sits in the send window (window.ts, seq order) until settled. On HELLO_OK,
 * entries with seq ≤ HWM are resolved (the server has them durably, or they are duplicates), and
 * the rest are re-sent in order with their original seq. The server dedupes by seq, so each
 * awaited send is stored exactly once.
 *
 * This file is the session across attempts: phases, seqs, settling, reconnect and backoff. One
 * attempt's socket is connection.ts, what a frame holds is frames.ts, what HELLO says is
 * handshake.ts: each reads without the others.
 */

type Phase = 'idle' | 'welcome' | 'hello' | 'ready'

export class Client extends EventEmitter {
  #o: ResolvedOptions
  #conn: Connection | null = null
  // The latest attempt's connection, kept past its end: connect()'s timeout diagnoses it.
  #lastAttempt: Connection | null = null
  #phase: Phase = 'idle'
  #welcome: Welcome | null = null
  #cnonce: Uint8Array | null = null
  #macKey: Uint8Array | null = null
  #sessionId = 0
  #maxFrame = DEFAULT_MAX_FRAME
  #zstd = false
  #nextSeq = 0n
  #everConnected = false
  #window: SendWindow
  #closing = false
  #failed: Error | null = null
  #attempts = 0
  #retryTimer: NodeJS.Timeout | null = null
  #pingSeq = 0n
  #stats = { acked: 0, nacked: 0, reconnects: 0, resent: 0 }
  #firstReady: { resolve: () => void; reject: (e: Error) => void } | null = null
  #lastProblem: Error | undefined

  constructor(options: ConnectOptions) {
    super()
    this.#o = resolveOptions(options)
    this.#window = new SendWindow(this.#o.window, () =>
      this.#failed || this.#closing ? (this.#failed ?? new MI_ERR_CLIENT_CLOSED()) : null,
    )
  }

  /** @internal Starts the first attempt; resolves at the first HELLO_OK. Use `connect()`. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const done = () => clearTimeout(timer)
      this.#firstReady = {
        resolve: () => {
          done()
          resolve()
        },
        reject: (e) => {
          done()
          reject(e)
        },
      }
      const ms = this.#o.connectTimeoutMs
      if (ms !== undefined) {
        timer = setTimeout(() => {
          const o = this.#o
          const why = diagnose(this.#lastProblem, Boolean(o.tls), this.#lastAttempt?.gotBytes ?? false)
          this.#fail(new MI_ERR_CLIENT_CONNECT_TIMEOUT(`${o.host}:${o.port}`, ms, why))
        }, ms)
      }
      this.#attempt()
    })
  }

  get stats(): ClientStats {
    return {
      inFlight: this.#window.inFlight,
      ...this.#stats,
      waiting: this.#window.waiting,
      connected: this.#phase === 'ready',
    }
  }

  /** Send one record as a DATA frame. Resolves with its seq once ACKed; rejects on NACK. */
  send(stream: string, body: Uint8Array | string, opts?: SendOptions): Promise<bigint> {
    if (this.#closing || this.#failed) return Promise.reject(this.#failed ?? new MI_ERR_CLIENT_CLOSED())
    const bytes = typeof body === 'string' ? Buffer.from(body) : body
    const ts = opts?.ts ?? 0
    const bad = checkRecord(stream, bytes, ts, this.#maxFrame)
    if (bad) return Promise.reject(bad)
    const admit = (): Promise<bigint> => {
      const seq = this.#nextSeq++
      // Sized and sealed at admission: the MAC key may have changed while this send waited.
      const frame = Buffer.allocUnsafe(dataFrameSize(stream, bytes, this.#macKey !== null))
      writeData(frame, 0, seq, stream, ts, bytes, this.#macKey)
      return this.#admit(seq, frame)
    }
    return this.#window.slot(admit)
  }

  /** Send records as one atomic BATCH frame (one seq). Resolves with the seq once ACKed. */
  sendBatch(records: readonly RecordInput[], opts?: BatchOptions): Promise<bigint> {
    if (this.#closing || this.#failed) return Promise.reject(this.#failed ?? new MI_ERR_CLIENT_CLOSED())
    const encoded = batchPayload(records, Boolean(opts?.compress) && this.#zstd, this.#maxFrame)
    if (encoded instanceof Error) return Promise.reject(encoded)
    const { payload, flags } = encoded
    const admit = (): Promise<bigint> => {
      const seq = this.#nextSeq++
      return this.#admit(seq, encodeFrame(FrameType.BATCH, seq, payload, { flags, macKey: this.#macKey }))
    }
    return this.#window.slot(admit)
  }

  /** Resolves once every frame sent before this call is settled (ACKed, NACKed or rejected). */
  flush(): Promise<void> {
    return this.#window.flush()
  }

  /**
   * Stop sending: waits up to `timeoutMs` (default 5000) for everything pending to settle, then
   * closes the socket and rejects whatever is still unsettled with MI_ERR_CLIENT_CLOSED.
   */
  async close(opts?: { timeoutMs?: number }): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    const timeoutMs = opts?.timeoutMs ?? 5000
    if (this.#window.pending > 0 && !this.#failed && timeoutMs > 0) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([this.flush(), new Promise((r) => (timer = setTimeout(r, timeoutMs)))])
      clearTimeout(timer)
    }
    this.#shutdown(new MI_ERR_CLIENT_CLOSED())
    const c = this.#conn
    this.#teardown()
    if (c) await c.end()
  }

  // ── settling ────────────────────────────────────────────────────────────────────────────────────

  #admit(seq: bigint, frame: Buffer): Promise<bigint> {
    // sealed 0 = never written: its first write is not a re-send and re-seals it for the session.
    const { entry, done } = this.#window.admit(seq, frame, this.#phase === 'ready' ? this.#sessionId : 0)
    if (this.#phase === 'ready') this.#write(entry)
    return done
  }

  /** Resolve every queued frame with seq ≤ upTo (cumulative ACK, or HELLO_OK's HWM). */
  #settleUpTo(upTo: bigint): void {
    this.#stats.acked += this.#window.settleUpTo(upTo)
  }

  #nack(seq: bigint, code: number, message: string): void {
    const r = this.#window.reject(seq, nackError(seq, code, message))
    if (r === 'rejected') this.#stats.nacked++
    else if (r === 'unknown') this.#log('warn', { seq, code }, 'NACK for a frame not in flight')
  }

  /** Reject everything pending and waiting. */
  #shutdown(err: Error): void {
    this.#window.rejectAll(err)
  }

  #fail(err: Error): void {
    if (this.#failed) return
    this.#failed = err
    this.#shutdown(err)
    this.#teardown()
    this.#firstReady?.reject(err)
    this.#firstReady = null
    this.#emitError(err)
  }

  // ── connection ──────────────────────────────────────────────────────────────────────────────────

  #attempt(): void {
    this.#retryTimer = null
    if (this.#closing || this.#failed) return
    const conn: Connection = new Connection(this.#o, {
      frame: (type, seq, payload) => this.#onFrame(type, seq, payload),
      lost: (err) => this.#lost(conn, err),
      fatal: (err) => this.#fail(err),
      ping: () =>
        this.#conn?.write(
          encodeFrame(FrameType.PING, ++this.#pingSeq, new Uint8Array(0), { macKey: this.#macKey }),
        ),
    })
    this.#conn = conn
    this.#lastAttempt = conn
    this.#phase = 'welcome'
    this.#macKey = null
  }

  #onFrame(type: number, seq: bigint, payload: Uint8Array): void {
    switch (type) {
      case FrameType.ACK:
        if (this.#phase === 'ready') this.#settleUpTo(seq)
        return
      case FrameType.NACK: {
        const { code, message } = decodeNackOrError(payload)
        this.#nack(seq, code, message)
        return
      }
      case FrameType.PING:
        this.#conn?.write(encodeFrame(FrameType.PONG, seq, payload, { macKey: this.#macKey }))
        return
      case FrameType.PONG:
        return
      case FrameType.ERROR: {
        const { code, message } = decodeNackOrError(payload)
        // Only permanent codes are MI_ERR_CLIENT_FATAL; a transient one (SHUTTING_DOWN, …) is a
        // connection loss the client resumes from, and says so in its code.
        if (PERMANENT_CODES.has(code)) this.#fail(fatalError(code, message))
        else this.#lost(this.#conn!, transientError(code, message))
        return
      }
      case FrameType.WELCOME:
        if (this.#phase !== 'welcome') throw new ProtocolError(ErrorCode.AUTH_REQUIRED, 'unexpected WELCOME')
        this.#onWelcome(decodeWelcome(payload))
        return
      case FrameType.HELLO_OK:
        if (this.#phase !== 'hello') throw new ProtocolError(ErrorCode.AUTH_REQUIRED, 'unexpected HELLO_OK')
        this.#onHelloOk(seq, payload)
        return
    }
  }

  #onWelcome(w: Welcome): void {
    this.#welcome = w
    const hello = helloFor(this.#o, w)
    if (hello.cnonce !== undefined) this.#cnonce = hello.cnonce
    this.#phase = 'hello'
    this.#conn?.write(encodeHello(hello))
  }

  #onHelloOk(hwm: bigint, payload: Uint8Array): void {
    const ok = decodeHelloOk(payload)
    const w = this.#welcome!
    const conn = this.#conn!
    conn.handshakeDone()
    if (ok.mac) {
      this.#macKey = macKeyFor(this.#o.hmacKey, w, this.#cnonce!)
      // HELLO_OK itself carried a CRC; every frame after it carries a MAC.
      conn.setMacKey(this.#macKey)
    }
    this.#maxFrame = w.max_frame
    this.#zstd = w.compression.includes('zstd')
    this.#sessionId++
    this.#phase = 'ready'
    this.#attempts = 0
    if (this.#everConnected) this.#stats.reconnects++
    else this.#nextSeq = hwm + 1n
    this.#everConnected = true
    if (this.#nextSeq <= hwm) this.#nextSeq = hwm + 1n
    this.#settleUpTo(hwm)
    // Re-send the rest in order, with their original seqs.
    for (const e of this.#window.unsettled()) this.#write(e)
    conn.startHeartbeat(w.heartbeat_ms)
    this.#log('info', { session: ok.session, hwm, mac: ok.mac }, 'MIP/1 session ready')
    this.emit('connected', {
      session: ok.session,
      hwm,
      mac: ok.mac,
      scopes: ok.scopes,
      welcome: w,
    } satisfies ConnectedInfo)
    this.#firstReady?.resolve()
    this.#firstReady = null
  }

  #lost(conn: Connection, err: Error): void {
    if (conn !== this.#conn) return
    this.#lastProblem = err
    const wasReady = this.#phase === 'ready'
    this.#teardown()
    if (this.#closing || this.#failed) return
    this.#log('warn', { err: err.message }, 'MIP/1 connection lost')
    if (wasReady) this.emit('disconnected', err)
    this.#emitError(err)
    const r = this.#o.reconnect
    this.#attempts++
    if (r === false || this.#attempts >= r.maxAttempts) {
      this.#fail(r === false ? err : new MI_ERR_CLIENT_GAVE_UP(this.#attempts, { cause: err }))
      return
    }
    // Equal jitter: half fixed, half random, so a fleet restarting together spreads out.
    const base = Math.min(r.maxDelayMs, r.initialDelayMs * r.factor ** (this.#attempts - 1))
    const delay = base / 2 + Math.random() * (base / 2)
    this.#retryTimer = setTimeout(() => this.#attempt(), delay)
  }

  #teardown(): void {
    const c = this.#conn
    this.#conn = null
    this.#phase = 'idle'
    if (this.#retryTimer && (this.#closing || this.#failed)) clearTimeout(this.#retryTimer)
    // Closing leaves the socket open: close() ends it once written frames are out.
    c?.drop(!this.#closing)
  }

  // ── writing ─────────────────────────────────────────────────────────────────────────────────────

  /** Write a queued frame, re-sealing its trailer if it was built for another session. */
  #write(e: Entry): void {
    if (e.sealed !== this.#sessionId) {
      if (e.sealed !== 0) this.#stats.resent++
      e.frame = reseal(e.frame, this.#macKey)
      e.sealed = this.#sessionId
    }
    this.#conn?.write(e.frame)
  }

  #emitError(err: Error): void {
    // 'error' without a listener would throw: transient errors are only worth a log line then.
    if (this.listenerCount('error') > 0) this.emit('error', err)
  }

  #log(level: 'debug' | 'info' | 'warn' | 'error', obj: object, msg: string): void {
    const fn = this.#o.logger[level]
    if (fn) fn.call(this.#o.logger, { module: this.#o.module, ...obj }, msg)
  }
}

/** Open a client and resolve once its first session is ready (HELLO_OK received). */
export async function connect(options: ConnectOptions): Promise<Client> {
  const client = new Client(options)
  await client.start()
  return client
}

export type { WireCodedError }
