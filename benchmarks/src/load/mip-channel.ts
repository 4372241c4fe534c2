import { connect, type Socket } from 'node:net'
import {
  decodeHelloOk,
  decodeNackOrError,
  decodeWelcome,
  encodeBatch,
  encodeHello,
  encodeRecord,
  FrameDecoder,
  FrameType,
  HEADER_BYTES,
  writeHeader,
  writeTrailer,
} from '@module-ingest/protocol'
import type { Channel, Sink } from './channel.ts'

/**
 * A raw MIP/1 producer connection: token HELLO, then DATA (or BATCH) frames pipelined up to the
 * window, settled by cumulative ACKs. The payload is encoded once; each frame costs a header, a
 * copy of the payload and a CRC, written into one buffer per flush, so the generator stays lean.
 */

export interface MipChannelOptions {
  host: string
  port: number
  localAddress?: string
  module: string
  token: string
  /** Cycled frame by frame (bodies.ts). */
  bodies: Buffer[]
  stream: string
  /** See LoadPlan.tsSpreadMs. */
  tsSpreadMs: number
  recordsPerFrame: number
  window: number
  sink: Sink
  handshakeTimeoutMs: number
}

export class MipChannel implements Channel {
  readonly backlog: number[] = []
  backlogHead = 0
  dead = false
  #socket: Socket
  #decoder = new FrameDecoder({ maxFrame: 1 << 20, role: 'client' })
  #payloads: Buffer[]
  #next = 0
  #type: number
  #window: number
  /** Send time per seq, in a ring of `window` slots: at most `window` seqs are unsettled. */
  #t0: Float64Array
  #sent = 0
  #acked = 0
  #out: Buffer | null = null
  #outOff = 0
  #sink: Sink

  private constructor(socket: Socket, o: MipChannelOptions, hwm: number) {
    this.#socket = socket
    this.#sink = o.sink
    this.#window = o.window
    this.#t0 = new Float64Array(o.window)
    this.#sent = hwm
    this.#acked = hwm
    // Every payload is encoded here, once: a send only copies one.
    const n = o.bodies.length
    const nowUs = Date.now() * 1000
    const record = (i: number) => ({
      stream: o.stream,
      ts: o.tsSpreadMs > 0 ? Math.round(nowUs - (o.tsSpreadMs * 1000 * (n - (i % n))) / n) : 0,
      body: o.bodies[i % n]!,
    })
    const per = o.recordsPerFrame
    this.#type = per > 1 ? FrameType.BATCH : FrameType.DATA
    this.#payloads = Array.from({ length: Math.ceil(n / per) }, (_, j) =>
      per > 1
        ? encodeBatch(Array.from({ length: per }, (_, k) => record(j * per + k))).payload
        : (encodeRecord(record(j)) as Buffer),
    )
  }

  static async open(o: MipChannelOptions): Promise<MipChannel> {
    const socket = connect({
      host: o.host,
      port: o.port,
      noDelay: true,
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
    })
    const decoder = new FrameDecoder({ maxFrame: 1 << 20, role: 'client' })
    let hwm = 0
    // Handshake with a plain promise around the first two frames; the hot path is set up after.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error('handshake timed out')), o.handshakeTimeoutMs)
      const fail = (err: Error) => {
        clearTimeout(timer)
        socket.removeAllListeners('data')
        socket.destroy()
        reject(err)
      }
      socket.once('error', fail)
      socket.once('close', () => fail(new Error('closed during handshake')))
      socket.on('data', (chunk) => {
        try {
          decoder.push(chunk)
          for (let f = decoder.next(); f !== null; f = decoder.next()) {
            if (f.type === FrameType.WELCOME) {
              decodeWelcome(f.payload)
              socket.write(
                encodeHello({ module: o.module, method: 'token', token: o.token, client: 'mi-bench' }),
              )
            } else if (f.type === FrameType.HELLO_OK) {
              decodeHelloOk(f.payload)
              hwm = Number(f.seq)
              clearTimeout(timer)
              socket.removeAllListeners('data')
              socket.removeAllListeners('error')
              socket.removeAllListeners('close')
              resolve()
              return
            } else if (f.type === FrameType.ERROR) {
              const e = decodeNackOrError(f.payload)
              fail(new Error(`ERROR ${e.code} ${e.message}`))
              return
            }
          }
        } catch (err) {
          fail(err as Error)
        }
      })
    })
    const ch = new MipChannel(socket, o, hwm)
    ch.#decoder = decoder
    socket.on('data', (chunk) => ch.#onData(chunk))
    socket.on('error', (err) => ch.#die(`socket: ${err.message}`))
    socket.on('close', () => ch.#die('connection closed by server'))
    return ch
  }

  get inFlight(): number {
    return this.#sent - this.#acked
  }

  send(t0: number): void {
    const seq = ++this.#sent
    this.#t0[seq % this.#window] = t0
    const payload = this.#payloads[this.#next]!
    if (++this.#next === this.#payloads.length) this.#next = 0
    const need = HEADER_BYTES + payload.byteLength + 4
    if (this.#out === null || this.#outOff + need > this.#out.byteLength) {
      this.flush()
      this.#out = Buffer.allocUnsafe(Math.max(64 * 1024, need * Math.min(this.#window, 64)))
    }
    const out = this.#out
    const off = this.#outOff
    const len = payload.byteLength
    writeHeader(out, off, this.#type, 0, len, BigInt(seq))
    payload.copy(out, off + HEADER_BYTES)
    this.#outOff = writeTrailer(out, off, len)
  }

  flush(): void {
    if (this.#out !== null && this.#outOff > 0 && !this.dead) {
      // The socket keeps a reference until written, so the next frames go into a fresh buffer.
      this.#socket.write(this.#out.subarray(0, this.#outOff))
      this.#out = null
    }
    this.#outOff = 0
  }

  unsettled(): number[] {
    const out: number[] = []
    for (let s = this.#acked + 1; s <= this.#sent; s++) out.push(this.#t0[s % this.#window]!)
    return out
  }

  close(): void {
    this.dead = true
    this.#socket.destroy()
  }

  #onData(chunk: Buffer): void {
    try {
      this.#decoder.push(chunk)
      let any = false
      for (let f = this.#decoder.next(); f !== null; f = this.#decoder.next()) {
        if (f.type === FrameType.ACK) {
          const upTo = Math.min(Number(f.seq), this.#sent)
          for (let s = this.#acked + 1; s <= upTo; s++) this.#sink.settled(this, this.#t0[s % this.#window]!)
          if (upTo > this.#acked) this.#acked = upTo
          any = true
        } else if (f.type === FrameType.NACK) {
          const e = decodeNackOrError(f.payload)
          this.#sink.error(`NACK ${e.code} ${e.message}`)
        } else if (f.type === FrameType.ERROR) {
          const e = decodeNackOrError(f.payload)
          this.#die(`ERROR ${e.code} ${e.message}`)
          return
        } else if (f.type === FrameType.PING) {
          // Servers may PING; answering keeps a quiet connection alive.
        }
      }
      if (any) this.#sink.drained(this)
    } catch (err) {
      this.#die(`decode: ${(err as Error).message}`)
    }
  }

  #die(message: string): void {
    if (this.dead) return
    this.dead = true
    this.#sink.error(message)
    this.#socket.destroy()
  }
}
