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

/** Slab size: the frames of many flushes, so allocation stays well below the bytes sent. */
const kSlabBytes = 1 << 20

/**
 * The slab of this process (a generator child is one thread): every connection's frames are
 * appended at `off`, so 10,000 connections share one slab instead of holding one each.
 */
const slab = { buf: Buffer.alloc(0), off: 0 }

/**
 * A raw MIP/1 producer connection: token HELLO, then DATA (or BATCH) frames pipelined up to the
 * window, settled by cumulative ACKs. Every frame is encoded once, header included, with seq 0; a
 * send copies it, writes its seq (two u32s, no BigInt) and its CRC, so the generator stays lean.
 * Frames go into the process's 1 MiB slab one after the other and a flush hands the socket this
 * connection's part written since its last flush (a view: the slab is never rewritten, only
 * replaced when full; a connection whose pending bytes are no longer at the slab's end, because
 * another one wrote after them, flushes them before it adds a frame). Allocating
 * a fresh 64 KiB+ buffer per flush instead, as before, cost the open-loop rows (~one frame per
 * flush) as much CPU in the garbage collector as everything else the generator did.
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
  /** Whole frames (header with seq 0, payload), no trailer: a send copies one. */
  #frames: Buffer[]
  #next = 0
  #window: number
  /** Send time per seq, in a ring of `window` slots: at most `window` seqs are unsettled. */
  #t0: Float64Array
  #sent = 0
  #acked = 0
  /** This connection's frames not yet flushed: bytes [#start, #end) of slab #buf. */
  #buf: Buffer = slab.buf
  #start = 0
  #end = 0
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
    const type = per > 1 ? FrameType.BATCH : FrameType.DATA
    this.#frames = Array.from({ length: Math.ceil(n / per) }, (_, j) => {
      const payload =
        per > 1
          ? encodeBatch(Array.from({ length: per }, (_, k) => record(j * per + k))).payload
          : encodeRecord(record(j))
      const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.byteLength)
      writeHeader(frame, 0, type, 0, payload.byteLength, 0n)
      frame.set(payload, HEADER_BYTES)
      return frame
    })
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
    const frame = this.#frames[this.#next]!
    if (++this.#next === this.#frames.length) this.#next = 0
    const need = frame.byteLength + 4
    if (this.#end > this.#start && (this.#buf !== slab.buf || this.#end !== slab.off)) this.flush()
    if (slab.off + need > slab.buf.byteLength) {
      this.flush()
      slab.buf = Buffer.allocUnsafeSlow(Math.max(kSlabBytes, need))
      slab.off = 0
    }
    if (this.#end === this.#start) {
      this.#buf = slab.buf
      this.#start = slab.off
    }
    const out = slab.buf
    const off = slab.off
    frame.copy(out, off)
    // The header's u64 seq (offset 12, big-endian); seqs stay far below 2^53.
    out.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), off + 12)
    out.writeUInt32BE(seq >>> 0, off + 16)
    slab.off = writeTrailer(out, off, frame.byteLength - HEADER_BYTES)
    this.#end = slab.off
  }

  flush(): void {
    if (this.#end > this.#start && !this.dead) {
      // The socket keeps this view until written: the slab's bytes are never rewritten.
      this.#socket.write(this.#buf.subarray(this.#start, this.#end))
    }
    this.#start = this.#end
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
