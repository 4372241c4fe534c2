import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { isIP, connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import {
  DEFAULT_MAX_FRAME,
  dataFrameSize,
  decodeHelloOk,
  decodeNackOrError,
  decodeWelcome,
  ErrorCode,
  encodeBatch,
  encodeFrame,
  encodeHello,
  Flags,
  FrameDecoder,
  FrameType,
  frameSize,
  HEADER_BYTES,
  type Hello,
  hmacProof,
  isValidStreamName,
  ProtocolError,
  type RecordInput,
  recordSize,
  sessionKey,
  type Welcome,
  writeData,
  writeTrailer,
} from '@module-ingest/protocol'
import {
  fatalError,
  MI_ERR_CLIENT_CLOSED,
  MI_ERR_CLIENT_CONNECT_TIMEOUT,
  MI_ERR_CLIENT_CONNECTION,
  MI_ERR_CLIENT_GAVE_UP,
  nackError,
  PERMANENT_CODES,
  transientError,
  type WireCodedError,
} from './errors.ts'
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
 * Every admitted frame sits in `queue` (seq order) until settled. On HELLO_OK, entries with
 * seq ≤ HWM are resolved (the server has them durably, or they are duplicates), and the rest are
 * re-sent in order with their original seq. The server dedupes by seq, so each awaited send is
 * stored exactly once.
 */

type Phase = 'idle' | 'welcome' | 'hello' | 'ready'

export class Client extends EventEmitter {
  #o: ResolvedOptions
  #socket: Socket | null = null
  #decoder: FrameDecoder | null = null
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
  #handshakeTimer: NodeJS.Timeout | null = null
  #heartbeat: NodeJS.Timeout | null = null
  #lastRx = 0
  #lastTx = 0
  #pingSeq = 0n
  #corked = false
  #stats = { acked: 0, nacked: 0, reconnects: 0, resent: 0 }
  #firstReady: { resolve: () => void; reject: (e: Error) => void } | null = null
  #lastProblem: Error | undefined
  // Whether the current attempt received any byte: silence hints at a TLS listener.
  #gotBytes = false

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
          this.#fail(new MI_ERR_CLIENT_CONNECT_TIMEOUT(`${o.host}:${o.port}`, ms, this.#diagnose()))
        }, ms)
      }
      this.#attempt()
    })
  }

  /** The last attempt's problem, with a hint for the usual causes (nothing listening, TLS mismatch). */
  #diagnose(): string {
    const last = this.#lastProblem
    if (last === undefined) return 'no answer'
    const text = last.message
    if (/ECONNREFUSED/.test(text)) return `${text} (nothing is listening there: is the server running?)`
    if (this.#o.tls && /wrong version number|packet length|EPROTO|ssl|tls/i.test(text))
      return `${text} (the server did not speak TLS: is its listener plain? drop TLS)`
    if (!this.#o.tls && !this.#gotBytes && /timed out|socket closed|ECONNRESET/.test(text))
      return `${text} (no WELCOME from the server: is it a TLS listener? use TLS)`
    return text
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
    if (!isValidStreamName(stream)) {
      return Promise.reject(
        nackError(undefined, ErrorCode.BAD_PAYLOAD, `invalid stream name ${JSON.stringify(stream)}`),
      )
    }
    const ts = opts?.ts ?? 0
    if (
      typeof ts === 'bigint' ? ts < 0n || ts > 0xffff_ffff_ffff_ffffn : !Number.isSafeInteger(ts) || ts < 0
    ) {
      return Promise.reject(
        nackError(
          undefined,
          ErrorCode.BAD_PAYLOAD,
          'ts must be a u64: a safe non-negative integer or a bigint',
        ),
      )
    }
    if (recordSize(stream, bytes) > this.#maxFrame) {
      return Promise.reject(
        nackError(undefined, ErrorCode.FRAME_TOO_LARGE, `record exceeds max_frame ${this.#maxFrame}`),
      )
    }
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
    let payload: Buffer
    let flags: number
    try {
      const compress = Boolean(opts?.compress) && this.#zstd
      const plain = encodeBatch(records)
      if (plain.payload.byteLength > this.#maxFrame) {
        const code = compress ? ErrorCode.BAD_PAYLOAD : ErrorCode.FRAME_TOO_LARGE
        return Promise.reject(nackError(undefined, code, `batch exceeds max_frame ${this.#maxFrame}`))
      }
      ;({ payload, flags } = compress ? encodeBatch(records, { compress: true }) : plain)
    } catch (err) {
      const code = err instanceof ProtocolError ? err.code : ErrorCode.BAD_PAYLOAD
      return Promise.reject(nackError(undefined, code, (err as Error).message))
    }
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
    const s = this.#socket
    this.#teardown()
    if (s && !s.destroyed) {
      await new Promise<void>((resolve) => {
        s.once('close', () => resolve())
        s.end()
        setTimeout(() => s.destroy(), 1000).unref()
      })
    }
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
    const o = this.#o
    // SNI must be a host name: Node deprecates (DEP0123) an IP address as servername.
    const sni = isIP(o.host) === 0 ? { servername: o.host } : {}
    const socket = o.tls
      ? tlsConnect({ ...sni, ...o.tls, host: o.host, port: o.port })
      : netConnect({ host: o.host, port: o.port })
    this.#gotBytes = false
    socket.setNoDelay(true)
    this.#socket = socket
    this.#decoder = new FrameDecoder({ maxFrame: DEFAULT_MAX_FRAME, role: 'client' })
    this.#phase = 'welcome'
    this.#macKey = null
    this.#lastRx = Date.now()
    this.#handshakeTimer = setTimeout(
      () => this.#lost(socket, new MI_ERR_CLIENT_CONNECTION('handshake timed out')),
      o.handshakeTimeoutMs,
    )
    socket.on('data', (chunk: Buffer) => this.#onData(socket, chunk))
    socket.on('error', (err) => this.#lost(socket, new MI_ERR_CLIENT_CONNECTION(err.message, { cause: err })))
    socket.on('close', () => this.#lost(socket, new MI_ERR_CLIENT_CONNECTION('socket closed')))
  }

  #onData(socket: Socket, chunk: Buffer): void {
    if (socket !== this.#socket) return
    this.#gotBytes = true
    this.#lastRx = Date.now()
    const dec = this.#decoder!
    try {
      dec.push(chunk)
      for (let f = dec.next(); f !== null; f = dec.next()) {
        this.#onFrame(f.type, f.seq, f.payload)
        if (socket !== this.#socket) return
      }
    } catch (err) {
      if (socket !== this.#socket) return
      if (err instanceof ProtocolError && err.code === ErrorCode.UNSUPPORTED_VERSION) {
        this.#fail(fatalError(err.code, err.message))
        return
      }
      // A server speaking garbage may be mid-restart or behind a bad proxy: treat as a lost connection.
      this.#lost(
        socket,
        new MI_ERR_CLIENT_CONNECTION(`protocol error from server: ${(err as Error).message}`, { cause: err }),
      )
    }
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
        this.#writeRaw(encodeFrame(FrameType.PONG, seq, payload, { macKey: this.#macKey }))
        return
      case FrameType.PONG:
        return
      case FrameType.ERROR: {
        const { code, message } = decodeNackOrError(payload)
        // Only permanent codes are MI_ERR_CLIENT_FATAL; a transient one (SHUTTING_DOWN, …) is a
        // connection loss the client resumes from, and says so in its code.
        if (PERMANENT_CODES.has(code)) this.#fail(fatalError(code, message))
        else this.#lost(this.#socket!, transientError(code, message))
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
    const o = this.#o
    this.#welcome = w
    const hello: Hello = {
      module: o.module,
      method: o.token !== undefined ? 'token' : 'hmac',
      client: o.clientName,
    }
    if (o.core !== undefined) hello.core = o.core
    if (o.fingerprint !== undefined) hello.fingerprint = o.fingerprint
    if (o.token !== undefined) {
      hello.token = o.token
    } else {
      this.#cnonce = randomBytes(16)
      hello.cnonce = this.#cnonce
      hello.proof = hmacProof(o.hmacKey!, w.nonce, this.#cnonce, o.module)
      hello.mac = o.mac
    }
    this.#phase = 'hello'
    this.#writeRaw(encodeHello(hello))
  }

  #onHelloOk(hwm: bigint, payload: Uint8Array): void {
    const ok = decodeHelloOk(payload)
    const w = this.#welcome!
    clearTimeout(this.#handshakeTimer!)
    this.#handshakeTimer = null
    if (ok.mac) {
      if (!this.#o.hmacKey)
        throw new ProtocolError(ErrorCode.BAD_PAYLOAD, 'MAC session without an hmac key', undefined, {
          fatal: true,
        })
      this.#macKey = sessionKey(this.#o.hmacKey, w.nonce, this.#cnonce!)
      // HELLO_OK itself carried a CRC; every frame after it carries a MAC.
      this.#decoder!.setMacKey(this.#macKey)
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
    this.#startHeartbeat(w.heartbeat_ms)
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

  #lost(socket: Socket, err: Error): void {
    if (socket !== this.#socket) return
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
    const s = this.#socket
    this.#socket = null
    this.#decoder = null
    this.#phase = 'idle'
    if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer)
    if (this.#heartbeat) clearInterval(this.#heartbeat)
    if (this.#retryTimer && (this.#closing || this.#failed)) clearTimeout(this.#retryTimer)
    this.#handshakeTimer = null
    this.#heartbeat = null
    if (s && !s.destroyed && !this.#closing) s.destroy()
  }

  #startHeartbeat(heartbeatMs: number): void {
    this.#lastTx = Date.now()
    this.#heartbeat = setInterval(() => {
      const now = Date.now()
      const s = this.#socket
      if (!s) return
      if (now - this.#lastRx > 3 * heartbeatMs) {
        this.#lost(s, new MI_ERR_CLIENT_CONNECTION(`no frame from the server for ${now - this.#lastRx} ms`))
        return
      }
      if (now - this.#lastTx >= heartbeatMs) {
        this.#writeRaw(
          encodeFrame(FrameType.PING, ++this.#pingSeq, new Uint8Array(0), { macKey: this.#macKey }),
        )
      }
    }, heartbeatMs)
    this.#heartbeat.unref()
  }

  // ── writing ─────────────────────────────────────────────────────────────────────────────────────

  /** Write a queued frame, re-sealing its trailer if it was built for another session. */
  #write(e: Entry): void {
    if (e.sealed !== this.#sessionId) {
      if (e.sealed !== 0) this.#stats.resent++
      e.frame = reseal(e.frame, this.#macKey)
      e.sealed = this.#sessionId
    }
    this.#writeRaw(e.frame)
  }

  #writeRaw(buf: Buffer): void {
    const s = this.#socket
    if (!s) return
    this.#lastTx = Date.now()
    // Cork for the rest of this tick: a burst of sends goes out in one write syscall.
    if (!this.#corked) {
      this.#corked = true
      s.cork()
      process.nextTick(() => {
        this.#corked = false
        s.uncork()
      })
    }
    s.write(buf)
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

/** Rewrite a frame's MAC flag and trailer for the current session (in place when the size fits). */
function reseal(frame: Buffer, macKey: Uint8Array | null): Buffer {
  const len = frame.readUInt32BE(8)
  const want = frameSize(len, macKey !== null)
  const out = want === frame.length ? frame : Buffer.allocUnsafe(want)
  if (out !== frame) frame.copy(out, 0, 0, HEADER_BYTES + len)
  const flags = out.readUInt16BE(4)
  out.writeUInt16BE(macKey ? flags | Flags.MAC : flags & ~Flags.MAC, 4)
  writeTrailer(out, 0, len, macKey)
  return out
}

/** Open a client and resolve once its first session is ready (HELLO_OK received). */
export async function connect(options: ConnectOptions): Promise<Client> {
  const client = new Client(options)
  await client.start()
  return client
}

export type { WireCodedError }
