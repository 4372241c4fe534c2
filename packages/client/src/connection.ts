/**
 * One connection attempt's transport: the socket (plain or TLS), its frame decoder, corked writes,
 * and the timers that watch it (handshake deadline, heartbeat silence). It knows nothing of seqs,
 * sessions or the send window, and never reconnects: client.ts opens a new Connection per attempt
 * and drops the old one, after which nothing from the old socket reaches the client.
 */
import { isIP, connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { DEFAULT_MAX_FRAME, ErrorCode, FrameDecoder, ProtocolError } from '@module-ingest/protocol'
import { fatalError, MI_ERR_CLIENT_CONNECTION } from './errors.ts'
import type { ResolvedOptions } from './options.ts'

export interface ConnectionHandlers {
  /** A decoded frame. It may drop this connection; the rest of the chunk is then ignored. */
  frame(type: number, seq: bigint, payload: Uint8Array): void
  /** Socket error or close, handshake timeout, heartbeat silence, or a server speaking garbage. */
  lost(err: Error): void
  /** The server speaks a protocol version this client does not: reconnecting cannot help. */
  fatal(err: Error): void
  /** The heartbeat found the line idle for heartbeat_ms: send a PING. */
  ping(): void
}

export class Connection {
  readonly #socket: Socket
  readonly #decoder: FrameDecoder
  readonly #handlers: ConnectionHandlers
  #dropped = false
  #handshakeTimer: NodeJS.Timeout | null = null
  #heartbeat: NodeJS.Timeout | null = null
  #lastRx = 0
  #lastTx = 0
  #corked = false
  /** Whether this attempt received any byte: silence hints at a TLS listener. */
  gotBytes = false

  constructor(o: ResolvedOptions, handlers: ConnectionHandlers) {
    this.#handlers = handlers
    // SNI must be a host name: Node deprecates (DEP0123) an IP address as servername.
    const sni = isIP(o.host) === 0 ? { servername: o.host } : {}
    const socket = o.tls
      ? tlsConnect({ ...sni, ...o.tls, host: o.host, port: o.port })
      : netConnect({ host: o.host, port: o.port })
    socket.setNoDelay(true)
    this.#socket = socket
    this.#decoder = new FrameDecoder({ maxFrame: DEFAULT_MAX_FRAME, role: 'client' })
    this.#lastRx = Date.now()
    this.#handshakeTimer = setTimeout(
      () => this.#handlers.lost(new MI_ERR_CLIENT_CONNECTION('handshake timed out')),
      o.handshakeTimeoutMs,
    )
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('error', (err) =>
      this.#handlers.lost(new MI_ERR_CLIENT_CONNECTION(err.message, { cause: err })),
    )
    socket.on('close', () => this.#handlers.lost(new MI_ERR_CLIENT_CONNECTION('socket closed')))
  }

  #onData(chunk: Buffer): void {
    if (this.#dropped) return
    this.gotBytes = true
    this.#lastRx = Date.now()
    const dec = this.#decoder
    try {
      dec.push(chunk)
      for (let f = dec.next(); f !== null; f = dec.next()) {
        this.#handlers.frame(f.type, f.seq, f.payload)
        if (this.#dropped) return
      }
    } catch (err) {
      if (this.#dropped) return
      if (err instanceof ProtocolError && err.code === ErrorCode.UNSUPPORTED_VERSION) {
        this.#handlers.fatal(fatalError(err.code, err.message))
        return
      }
      // A server speaking garbage may be mid-restart or behind a bad proxy: treat as a lost connection.
      this.#handlers.lost(
        new MI_ERR_CLIENT_CONNECTION(`protocol error from server: ${(err as Error).message}`, { cause: err }),
      )
    }
  }

  /** HELLO_OK arrived: the handshake deadline no longer applies. */
  handshakeDone(): void {
    clearTimeout(this.#handshakeTimer!)
    this.#handshakeTimer = null
  }

  /** Every frame after HELLO_OK carries a MAC under this key. */
  setMacKey(key: Uint8Array): void {
    this.#decoder.setMacKey(key)
  }

  startHeartbeat(heartbeatMs: number): void {
    this.#lastTx = Date.now()
    this.#heartbeat = setInterval(() => {
      const now = Date.now()
      if (this.#dropped) return
      if (now - this.#lastRx > 3 * heartbeatMs) {
        this.#handlers.lost(
          new MI_ERR_CLIENT_CONNECTION(`no frame from the server for ${now - this.#lastRx} ms`),
        )
        return
      }
      if (now - this.#lastTx >= heartbeatMs) this.#handlers.ping()
    }, heartbeatMs)
    this.#heartbeat.unref()
  }

  write(buf: Buffer): void {
    const s = this.#socket
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

  /**
   * Stop this connection's timers and ignore its socket from now on; `destroy` false leaves the
   * socket open for `end()` (a close that lets written frames go out first).
   */
  drop(destroy: boolean): void {
    this.#dropped = true
    if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer)
    if (this.#heartbeat) clearInterval(this.#heartbeat)
    this.#handshakeTimer = null
    this.#heartbeat = null
    const s = this.#socket
    if (!s.destroyed && destroy) s.destroy()
  }

  /** Half-close and wait for the socket to close; destroyed after 1 s if the server lingers. */
  async end(): Promise<void> {
    const s = this.#socket
    if (s.destroyed) return
    await new Promise<void>((resolve) => {
      s.once('close', () => resolve())
      s.end()
      setTimeout(() => s.destroy(), 1000).unref()
    })
  }
}

/** The last attempt's problem, with a hint for the usual causes (nothing listening, TLS mismatch). */
export function diagnose(last: Error | undefined, tls: boolean, gotBytes: boolean): string {
  if (last === undefined) return 'no answer'
  const text = last.message
  if (/ECONNREFUSED/.test(text)) return `${text} (nothing is listening there: is the server running?)`
  if (tls && /wrong version number|packet length|EPROTO|ssl|tls/i.test(text))
    return `${text} (the server did not speak TLS: is its listener plain? drop TLS)`
  if (!tls && !gotBytes && /timed out|socket closed|ECONNRESET/.test(text))
    return `${text} (no WELCOME from the server: is it a TLS listener? use TLS)`
  return text
}
