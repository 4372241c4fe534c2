import { type EncodeBatchOptions, encodeBatch } from './batch.ts'
import {
  CRC_BYTES,
  Flags,
  FrameType,
  HEADER_BYTES,
  MAC_BYTES,
  MAGIC,
  MAX_PING_PAYLOAD,
  VERSION,
} from './constants.ts'
import { MI_ERR_PROTOCOL_ENCODE } from './errors.ts'
import { encodeBody, type Hello, type HelloOk, type Welcome } from './handshake.ts'
import { frameCrc, frameMac } from './mac.ts'
import { type RecordInput, recordBody, recordSize, writeRecord } from './record.ts'

/**
 * Frame encoders. Each returns one freshly allocated Buffer holding the whole frame (header, payload,
 * trailer), so a caller can hand it to `socket.write` without further copies. The `write*` variants
 * encode into a caller-owned buffer for the hot paths (ACK, DATA).
 *
 * Passing `macKey` sets the MAC flag and appends the 16-byte MAC; otherwise the trailer is CRC-32.
 */

export interface EncodeFrameOptions {
  flags?: number
  macKey?: Uint8Array | null | undefined
}

const U64_MAX = 0xffff_ffff_ffff_ffffn

function checkSeq(seq: bigint): void {
  if (typeof seq !== 'bigint' || seq < 0n || seq > U64_MAX) {
    throw new MI_ERR_PROTOCOL_ENCODE(`seq must be a bigint in 0..2^64-1, got ${String(seq)}`)
  }
}

/** Bytes a frame with an `L`-byte payload occupies on the wire. */
export function frameSize(payloadBytes: number, mac: boolean): number {
  return HEADER_BYTES + payloadBytes + (mac ? MAC_BYTES : CRC_BYTES)
}

/** Write the 20-byte header at `offset`. */
export function writeHeader(
  target: Buffer,
  offset: number,
  type: number,
  flags: number,
  payloadBytes: number,
  seq: bigint,
): void {
  target.writeUInt16BE(MAGIC, offset)
  target[offset + 2] = VERSION
  target[offset + 3] = type
  target.writeUInt16BE(flags, offset + 4)
  target.writeUInt16BE(0, offset + 6)
  target.writeUInt32BE(payloadBytes, offset + 8)
  target.writeBigUInt64BE(seq, offset + 12)
}

/**
 * Append the trailer for the frame whose header starts at `offset` and whose payload is already in
 * place. Returns the offset just past the frame.
 */
export function writeTrailer(
  target: Buffer,
  offset: number,
  payloadBytes: number,
  macKey?: Uint8Array | null,
): number {
  const end = offset + HEADER_BYTES + payloadBytes
  const covered = target.subarray(offset, end)
  if (macKey) {
    frameMac(macKey, covered).copy(target, end)
    return end + MAC_BYTES
  }
  target.writeUInt32BE(frameCrc(covered), end)
  return end + CRC_BYTES
}

export function encodeFrame(
  type: number,
  seq: bigint,
  payload: Uint8Array,
  opts?: EncodeFrameOptions,
): Buffer {
  checkSeq(seq)
  const macKey = opts?.macKey ?? null
  const flags = ((opts?.flags ?? 0) & ~Flags.MAC) | (macKey ? Flags.MAC : 0)
  const len = payload.byteLength
  const out = Buffer.allocUnsafe(frameSize(len, macKey !== null))
  writeHeader(out, 0, type, flags, len, seq)
  out.set(payload, HEADER_BYTES)
  writeTrailer(out, 0, len, macKey)
  return out
}

/** Write an ACK frame (24 bytes, or 36 with a MAC) at `offset`; returns the offset past it. */
export function writeAck(target: Buffer, offset: number, seq: bigint, macKey?: Uint8Array | null): number {
  checkSeq(seq)
  writeHeader(target, offset, FrameType.ACK, macKey ? Flags.MAC : 0, 0, seq)
  return writeTrailer(target, offset, 0, macKey)
}

export function encodeAck(seq: bigint, macKey?: Uint8Array | null): Buffer {
  const out = Buffer.allocUnsafe(frameSize(0, Boolean(macKey)))
  writeAck(out, 0, seq, macKey)
  return out
}

function checkCode(code: number): void {
  if (!Number.isInteger(code) || code < 0 || code > 0xffff) {
    throw new MI_ERR_PROTOCOL_ENCODE(`error code must be an integer in 0..65535, got ${code}`)
  }
}

export function encodeNack(seq: bigint, code: number, message: string, macKey?: Uint8Array | null): Buffer {
  checkCode(code)
  return encodeFrame(FrameType.NACK, seq, encodeBody({ code, message }), { macKey })
}

export function encodeError(code: number, message: string, macKey?: Uint8Array | null): Buffer {
  checkCode(code)
  return encodeFrame(FrameType.ERROR, 0n, encodeBody({ code, message }), { macKey })
}

export function encodeWelcome(body: Welcome): Buffer {
  return encodeFrame(FrameType.WELCOME, 0n, encodeBody(body))
}

export function encodeHello(body: Hello): Buffer {
  return encodeFrame(FrameType.HELLO, 0n, encodeBody(body))
}

/**
 * HELLO_OK always carries a CRC, even when it opens a MAC session: the MAC applies to every frame
 * *after* it (PROTOCOL.md, Handshake step 3). The third parameter exists only so call sites written
 * against the first draft keep compiling; it is ignored.
 */
export function encodeHelloOk(seq: bigint, body: HelloOk, _ignoredMacKey?: unknown): Buffer {
  return encodeFrame(FrameType.HELLO_OK, seq, encodeBody(body))
}

function checkPing(payload: Uint8Array): void {
  if (payload.byteLength > MAX_PING_PAYLOAD) {
    throw new MI_ERR_PROTOCOL_ENCODE(`PING/PONG payload over ${MAX_PING_PAYLOAD} bytes`)
  }
}

export function encodePing(seq: bigint, payload: Uint8Array, macKey?: Uint8Array | null): Buffer {
  checkPing(payload)
  return encodeFrame(FrameType.PING, seq, payload, { macKey })
}

export function encodePong(seq: bigint, payload: Uint8Array, macKey?: Uint8Array | null): Buffer {
  checkPing(payload)
  return encodeFrame(FrameType.PONG, seq, payload, { macKey })
}

/**
 * Write a DATA frame for one record at `offset`, encoding the record straight into `target` (no
 * intermediate payload buffer). `target` needs `dataFrameSize(stream, body, mac)` bytes of room.
 * Throws ProtocolError BAD_PAYLOAD for a bad stream name or ts. Returns the offset past the frame.
 */
export function writeData(
  target: Buffer,
  offset: number,
  seq: bigint,
  stream: string,
  ts: number | bigint,
  body: Uint8Array,
  macKey?: Uint8Array | null,
): number {
  checkSeq(seq)
  const len = recordSize(stream, body)
  writeHeader(target, offset, FrameType.DATA, macKey ? Flags.MAC : 0, len, seq)
  writeRecord(target, offset + HEADER_BYTES, stream, ts, body)
  return writeTrailer(target, offset, len, macKey)
}

export function dataFrameSize(stream: string, body: Uint8Array, mac: boolean): number {
  return frameSize(recordSize(stream, body), mac)
}

/** One DATA frame in one allocation. */
export function encodeData(seq: bigint, record: RecordInput, macKey?: Uint8Array | null): Buffer {
  const body = recordBody(record.body)
  const stream = String(record.stream)
  const out = Buffer.allocUnsafe(dataFrameSize(stream, body, Boolean(macKey)))
  writeData(out, 0, seq, stream, record.ts ?? 0, body, macKey)
  return out
}

/** One BATCH frame: records encoded (and optionally zstd-compressed) into a single frame. */
export function encodeBatchFrame(
  seq: bigint,
  records: readonly RecordInput[],
  opts?: EncodeBatchOptions & { macKey?: Uint8Array | null },
): Buffer {
  const { payload, flags } = encodeBatch(records, opts)
  return encodeFrame(FrameType.BATCH, seq, payload, { flags, macKey: opts?.macKey ?? null })
}
