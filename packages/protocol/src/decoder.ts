import {
  CLIENT_TYPES,
  CRC_BYTES,
  ErrorCode,
  Flags,
  FrameType,
  HEADER_BYTES,
  KNOWN_FLAGS,
  MAC_BYTES,
  MAGIC,
  MAX_PING_PAYLOAD,
  SERVER_TYPES,
  VERSION,
} from './constants.ts'
import { MI_ERR_PROTOCOL_OPT_INVALID, ProtocolError } from './errors.ts'
import { frameCrc, verifyMac } from './mac.ts'

/** One decoded frame. `payload` is a view: valid until the next `push()`. */
export interface Frame {
  type: number
  flags: number
  seq: bigint
  payload: Uint8Array
}

export interface FrameDecoderOptions {
  /** Largest payload `L` accepted (the `max_frame` announced in WELCOME). */
  maxFrame: number
  /** 'server' decodes what clients send; 'client' decodes what servers send. */
  role: 'server' | 'client'
}

const kEmpty = Buffer.alloc(0)
const kMinAssembly = 4096
/** An assembly buffer grown past this is dropped once its frame is returned (not kept per socket). */
const kKeepAssembly = 64 * 1024

function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
}

/**
 * Incremental MIP/1 frame decoder: push socket chunks of any size, pull frames with `next()` until
 * it returns null. It checks, in the spec's order and failing on the first:
 *
 *   magic (1) → version (2) → flags/reserved, MAC-flag and PING-size rules (19, or 17 for a frame
 *   without MAC in a MAC session) → L ≤ maxFrame (3) → CRC (4) or MAC (17) → type known for this
 *   role (15).
 *
 * Header checks run on whatever header bytes have arrived, so a bad magic or an oversized L fails
 * before any payload is buffered. State checks (5) and payload checks (NACK codes) belong to the
 * caller. Every failure is fatal: the decoder then rethrows the same ProtocolError forever.
 *
 * Buffering: a frame lying wholly inside the current chunk is returned as a zero-copy view of it.
 * Bytes left over at the end of a chunk are copied into an assembly buffer only when the next chunk
 * is pushed, which is why a returned payload stays valid until the next `push()`. The assembly
 * buffer grows with the bytes that actually arrived (doubling), never to the size a header merely
 * announces: a peer that sends a header claiming `maxFrame` and then trickles costs what it sent.
 */
export class FrameDecoder {
  #maxFrame: number
  #types: ReadonlySet<number>
  #macKey: Uint8Array | null = null
  #failed: ProtocolError | null = null
  // Current chunk and read offset into it.
  #cur: Buffer = kEmpty
  #off = 0
  // Assembly buffer for a frame that spans chunks: bytes [0, #asmLen) are the frame's start.
  #asm: Buffer = kEmpty
  #asmLen = 0

  constructor(opts: FrameDecoderOptions) {
    const { maxFrame, role } = opts ?? ({} as FrameDecoderOptions)
    if (!Number.isSafeInteger(maxFrame) || maxFrame < 0 || maxFrame > 0xffffffff) {
      throw new MI_ERR_PROTOCOL_OPT_INVALID('options.maxFrame', 'an integer in 0..2^32-1')
    }
    if (role !== 'server' && role !== 'client') {
      throw new MI_ERR_PROTOCOL_OPT_INVALID('options.role', "'server' or 'client'")
    }
    this.#maxFrame = maxFrame
    this.#types = role === 'server' ? CLIENT_TYPES : SERVER_TYPES
  }

  /**
   * Enter (key) or leave (null) a MAC session. Takes effect from the next frame `next()` parses:
   * call it right after the HELLO_OK frame (which itself carries a CRC) has been returned/sent.
   */
  setMacKey(key: Uint8Array | null): void {
    this.#macKey = key
  }

  /**
   * Change the largest payload accepted from the next header checked on. The engine starts a
   * connection at MAX_HELLO_PAYLOAD (before HELLO_OK only a HELLO is allowed) and raises it after.
   */
  setMaxFrame(maxFrame: number): void {
    if (!Number.isSafeInteger(maxFrame) || maxFrame < 0 || maxFrame > 0xffffffff) {
      throw new MI_ERR_PROTOCOL_OPT_INVALID('maxFrame', 'an integer in 0..2^32-1')
    }
    this.#maxFrame = maxFrame
  }

  /** Bytes of assembly buffer this decoder holds (what a partial frame really costs in memory). */
  get allocatedBytes(): number {
    return this.#asm.length
  }

  /** Free an idle assembly buffer (no partial frame held); the next partial frame allocates anew. */
  trim(): void {
    if (this.#asmLen === 0) this.#asm = kEmpty
  }

  /** Drop every buffered byte and fail from now on with `error` (a connection shed or closed). */
  discard(error: ProtocolError): void {
    this.#failed = error
    this.#cur = kEmpty
    this.#off = 0
    this.#asm = kEmpty
    this.#asmLen = 0
  }

  /** Bytes received but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.#asmLen + (this.#cur.length - this.#off)
  }

  /** The error the decoder failed with, if any. */
  get error(): ProtocolError | null {
    return this.#failed
  }

  push(chunk: Uint8Array): void {
    if (this.#failed) throw this.#failed
    const rest = this.#cur.length - this.#off
    if (rest > 0) {
      // Keep the unread tail: it is the start of a frame (or several, if next() was not drained).
      this.#reserve(this.#asmLen + rest)
      this.#cur.copy(this.#asm, this.#asmLen, this.#off)
      this.#asmLen += rest
    }
    this.#cur = chunk.byteLength === 0 ? kEmpty : asBuffer(chunk)
    this.#off = 0
  }

  next(): Frame | null {
    if (this.#failed) throw this.#failed
    try {
      return this.#asmLen > 0 ? this.#nextAssembled() : this.#nextInChunk()
    } catch (err) {
      this.#failed =
        err instanceof ProtocolError
          ? err
          : // Defensive: nothing below should throw anything else, but the contract is "only ProtocolError".
            new ProtocolError(ErrorCode.BAD_FRAME, 'undecodable frame', undefined, { cause: err })
      this.#cur = kEmpty
      this.#off = 0
      this.#asmLen = 0
      throw this.#failed
    }
  }

  #nextInChunk(): Frame | null {
    const buf = this.#cur
    const at = this.#off
    const avail = buf.length - at
    if (avail === 0) return null
    const total = this.#checkHeader(buf, at, avail)
    if (total < 0 || avail < total) {
      // Stash the partial frame now rather than at the next push(): once next() has returned null
      // the decoder holds no reference into the caller's chunk, so the caller may reuse that memory
      // at once (the engine releases ring space right after decoding a chunk).
      this.#reserve(this.#asmLen + avail)
      buf.copy(this.#asm, this.#asmLen, at)
      this.#asmLen += avail
      this.#off = buf.length
      return null
    }
    this.#off = at + total
    return this.#finish(buf, at, total)
  }

  #nextAssembled(): Frame | null {
    // Complete the header first, then the whole frame, taking bytes from the current chunk.
    if (this.#asmLen < HEADER_BYTES) {
      this.#fill(HEADER_BYTES)
      if (this.#checkHeader(this.#asm, 0, this.#asmLen) < 0) return null
    }
    const total = this.#checkHeader(this.#asm, 0, this.#asmLen)
    this.#fill(total)
    if (this.#asmLen < total) return null
    const frame = this.#finish(this.#asm, 0, total)
    if (this.#asmLen > total) {
      // Only when push() was called without draining next(): more frames sit behind this one.
      // Move them (and the chunk's tail) to a fresh buffer so the returned payload stays intact.
      this.#cur = Buffer.concat([this.#asm.subarray(total, this.#asmLen), this.#cur.subarray(this.#off)])
      this.#off = 0
    }
    this.#asmLen = 0
    // The returned payload keeps the old buffer alive as long as the caller holds it.
    if (this.#asm.length > kKeepAssembly) this.#asm = kEmpty
    return frame
  }

  /** Move bytes from the current chunk into the assembly buffer until it holds `want` bytes. */
  #fill(want: number): void {
    const n = Math.min(want - this.#asmLen, this.#cur.length - this.#off)
    if (n <= 0) return
    this.#reserve(this.#asmLen + n, want)
    this.#cur.copy(this.#asm, this.#asmLen, this.#off, this.#off + n)
    this.#asmLen += n
    this.#off += n
  }

  /** Grow the assembly buffer to hold `size` bytes (doubling, but never past `cap`). */
  #reserve(size: number, cap = Number.POSITIVE_INFINITY): void {
    if (this.#asm.length >= size) return
    const next = Buffer.allocUnsafe(
      Math.min(Math.max(cap, kMinAssembly), Math.max(size, kMinAssembly, this.#asm.length * 2)),
    )
    if (this.#asmLen > 0) this.#asm.copy(next, 0, 0, this.#asmLen)
    this.#asm = next
  }

  /**
   * Run the header checks that the `avail` bytes at `at` allow, in spec order. Returns the frame's
   * total size once the 20-byte header is in and valid, or -1 when more bytes are needed.
   */
  #checkHeader(b: Buffer, at: number, avail: number): number {
    if (avail >= 1 && b[at] !== MAGIC >> 8) throw badMagic()
    if (avail < 2) return -1
    if (b[at + 1] !== (MAGIC & 0xff)) throw badMagic()
    if (avail < 3) return -1
    if (b[at + 2] !== VERSION) {
      throw new ProtocolError(ErrorCode.UNSUPPORTED_VERSION, `unsupported version ${b[at + 2]}`)
    }
    if (avail < HEADER_BYTES) return -1
    const seq = b.readBigUInt64BE(at + 12)
    const type = b[at + 3]!
    const flags = b.readUInt16BE(at + 4)
    const mac = this.#macKey !== null
    if ((flags & ~KNOWN_FLAGS) !== 0) {
      throw new ProtocolError(ErrorCode.BAD_FRAME, `unknown flag bits 0x${flags.toString(16)}`, seq)
    }
    if (b.readUInt16BE(at + 6) !== 0) throw new ProtocolError(ErrorCode.BAD_FRAME, 'reserved field set', seq)
    if ((flags & Flags.MAC) === 0 && mac) {
      throw new ProtocolError(ErrorCode.BAD_MAC, 'frame without MAC in a MAC session', seq)
    }
    if ((flags & Flags.MAC) !== 0 && !mac) {
      throw new ProtocolError(ErrorCode.BAD_FRAME, 'MAC flag outside a MAC session', seq)
    }
    if ((flags & Flags.COMPRESSED) !== 0 && type !== FrameType.BATCH) {
      throw new ProtocolError(ErrorCode.BAD_FRAME, 'COMPRESSED flag on a frame other than BATCH', seq)
    }
    const len = b.readUInt32BE(at + 8)
    if (type === FrameType.PING && len > MAX_PING_PAYLOAD) {
      throw new ProtocolError(
        ErrorCode.BAD_FRAME,
        `PING payload of ${len} bytes exceeds ${MAX_PING_PAYLOAD}`,
        seq,
      )
    }
    if (len > this.#maxFrame) {
      throw new ProtocolError(
        ErrorCode.FRAME_TOO_LARGE,
        `payload of ${len} bytes exceeds ${this.#maxFrame}`,
        seq,
      )
    }
    return HEADER_BYTES + len + (mac ? MAC_BYTES : CRC_BYTES)
  }

  /** Trailer and type checks on a complete frame at b[at, at+total). */
  #finish(b: Buffer, at: number, total: number): Frame {
    const seq = b.readBigUInt64BE(at + 12)
    const key = this.#macKey
    const end = at + total - (key ? MAC_BYTES : CRC_BYTES)
    const covered = b.subarray(at, end)
    if (key) {
      if (!verifyMac(key, covered, b.subarray(end, at + total))) {
        throw new ProtocolError(ErrorCode.BAD_MAC, 'MAC mismatch', seq)
      }
    } else if (frameCrc(covered) !== b.readUInt32BE(end)) {
      throw new ProtocolError(ErrorCode.BAD_CHECKSUM, 'CRC-32 mismatch', seq)
    }
    const type = b[at + 3]!
    if (!this.#types.has(type)) {
      throw new ProtocolError(
        ErrorCode.UNSUPPORTED_TYPE,
        `unsupported frame type 0x${type.toString(16)}`,
        seq,
      )
    }
    return { type, flags: b.readUInt16BE(at + 4), seq, payload: b.subarray(at + HEADER_BYTES, end) }
  }
}

function badMagic(): ProtocolError {
  return new ProtocolError(ErrorCode.BAD_MAGIC, 'bad magic (not a MIP/1 stream)')
}
