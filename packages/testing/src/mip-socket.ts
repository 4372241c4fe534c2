/**
 * A raw MIP/1 connection for tests that must control every byte (bad CRCs, early frames, MAC
 * tampering), unlike @module-ingest/client which always speaks correctly.
 */
import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls'
import {
  decodeHelloOk,
  decodeNackOrError,
  decodeWelcome,
  encodeHello,
  type Frame,
  FrameDecoder,
  FrameType,
  type Hello,
  hmacProof,
  sessionKey,
  type Welcome,
} from '@module-ingest/protocol'

export interface ReceivedFrame {
  type: number
  flags: number
  seq: bigint
  payload: Buffer
}

export class MipSocket {
  readonly socket: Socket
  readonly #decoder = new FrameDecoder({ maxFrame: 16 << 20, role: 'client' })
  readonly #frames: ReceivedFrame[] = []
  #waiters: Array<() => void> = []
  #closed = false
  #error: Error | null = null
  welcome: Welcome | null = null
  macKey: Uint8Array | null = null

  private constructor(socket: Socket) {
    this.socket = socket
    socket.on('data', (chunk) => {
      try {
        this.#decoder.push(chunk)
        let f: Frame | null
        // biome-ignore lint/suspicious/noAssignInExpressions: decoder idiom
        while ((f = this.#decoder.next()) !== null) {
          this.#frames.push({ type: f.type, flags: f.flags, seq: f.seq, payload: Buffer.from(f.payload) })
        }
      } catch (err) {
        this.#error = err as Error
      }
      this.#wake()
    })
    socket.on('close', () => {
      this.#closed = true
      this.#wake()
    })
    socket.on('error', () => {})
  }

  /** With `tls`, connect over TLS (resolves after the TLS handshake) using those options. */
  static async connect(
    port: number,
    host = '127.0.0.1',
    localAddress?: string,
    tls?: ConnectionOptions,
  ): Promise<MipSocket> {
    const opts = { port, host, ...(localAddress ? { localAddress } : {}) }
    const socket = tls ? tlsConnect({ ...tls, ...opts }) : connect(opts)
    await new Promise<void>((ok, fail) => {
      socket.once(tls ? 'secureConnect' : 'connect', ok)
      socket.once('error', fail)
    })
    return new MipSocket(socket)
  }

  /** Connect and read WELCOME. */
  static async open(
    port: number,
    host = '127.0.0.1',
    localAddress?: string,
    tls?: ConnectionOptions,
  ): Promise<MipSocket> {
    const s = await MipSocket.connect(port, host, localAddress, tls)
    const w = await s.expect(FrameType.WELCOME)
    s.welcome = decodeWelcome(w.payload)
    return s
  }

  /** Connect, WELCOME, HELLO with a token; returns HELLO_OK's seq (the module's high-water mark). */
  static async session(
    port: number,
    hello: {
      module: string
      core?: string
      token?: string
      hmacKey?: Uint8Array
      mac?: boolean
      fingerprint?: string
    },
    tls?: ConnectionOptions,
  ): Promise<{ sock: MipSocket; hwm: bigint }> {
    const sock = await MipSocket.open(port, '127.0.0.1', undefined, tls)
    const hwm = await sock.hello(hello)
    return { sock, hwm }
  }

  async hello(h: {
    module: string
    core?: string
    token?: string
    hmacKey?: Uint8Array
    mac?: boolean
    fingerprint?: string
  }): Promise<bigint> {
    const nonce = this.welcome!.nonce
    let body: Hello
    if (h.hmacKey) {
      const cnonce = randomBytes(16)
      body = {
        module: h.module,
        method: 'hmac',
        cnonce,
        proof: hmacProof(h.hmacKey, nonce, cnonce, h.module),
        ...(h.core ? { core: h.core } : {}),
        ...(h.mac ? { mac: true } : {}),
      }
      if (h.mac) this.macKey = sessionKey(h.hmacKey, nonce, cnonce)
    } else {
      body = { module: h.module, method: 'token', token: h.token ?? '', ...(h.core ? { core: h.core } : {}) }
    }
    if (h.fingerprint !== undefined) body.fingerprint = h.fingerprint
    this.write(encodeHello(body))
    const ok = await this.next()
    if (ok.type !== FrameType.HELLO_OK) {
      const err = ok.type === FrameType.ERROR ? decodeNackOrError(ok.payload) : null
      throw Object.assign(new Error(`expected HELLO_OK, got type ${ok.type} ${err ? err.message : ''}`), {
        code: err?.code,
      })
    }
    const body2 = decodeHelloOk(ok.payload)
    if (!body2.mac) this.macKey = null
    else this.#decoder.setMacKey(this.macKey)
    return ok.seq
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes)
  }

  /** The next frame, whatever it is (rejects on close or timeout). */
  async next(timeoutMs = 10_000): Promise<ReceivedFrame> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const f = this.#frames.shift()
      if (f) return f
      if (this.#error) throw this.#error
      if (this.#closed) throw new Error('connection closed')
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  async expect(type: number, timeoutMs?: number): Promise<ReceivedFrame> {
    const f = await this.next(timeoutMs)
    if (f.type !== type) {
      const detail =
        f.type === FrameType.ERROR || f.type === FrameType.NACK
          ? JSON.stringify(decodeNackOrError(f.payload))
          : ''
      throw new Error(`expected frame type ${type}, got ${f.type} ${detail}`)
    }
    return f
  }

  /** Wait for an ERROR and return its code. */
  async expectError(timeoutMs?: number): Promise<number> {
    const f = await this.expect(FrameType.ERROR, timeoutMs)
    return decodeNackOrError(f.payload).code
  }

  /** Read ACKs until one covers `seq`; returns it. */
  async ackFor(seq: bigint, timeoutMs?: number): Promise<bigint> {
    for (;;) {
      const f = await this.expect(FrameType.ACK, timeoutMs)
      if (f.seq >= seq) return f.seq
    }
  }

  /** Resolves when the server closed the connection. */
  async closed(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!this.#closed) {
      if (Date.now() > deadline) throw new Error('connection still open')
      await new Promise((r) => setTimeout(r, 10))
    }
  }

  close(): void {
    this.socket.destroy()
  }

  #wake(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w()
  }
}
