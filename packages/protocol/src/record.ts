import { ErrorCode } from './constants.ts'
import { badPayload, ProtocolError } from './errors.ts'
import { isValidStreamBytes, isValidStreamName } from './names.ts'

/**
 * One record: the DATA payload and each BATCH entry.
 *
 * ```
 * u8 S (1..255) │ S bytes stream name │ u64 ts (µs since epoch; 0 = server stamps) │ body (rest)
 * ```
 *
 * `ts` is any u64 (PROTOCOL.md). Decoded, it is a JS number up to Number.MAX_SAFE_INTEGER
 * (≈ year 2255 in µs) and a bigint above it, so every value is exact and the usual one costs
 * no BigInt; encoding takes either.
 */
export interface RecordInput {
  stream: string
  /** Microseconds since the Unix epoch; 0 (the default) lets the server stamp it. A bigint for any u64. */
  ts?: number | bigint
  body: Uint8Array | string
}

export interface DecodedRecord {
  stream: string
  /** A number up to 2^53-1, a bigint above it (never a bigint that would fit a number). */
  ts: number | bigint
  /** A view into the decoded payload (no copy). */
  body: Uint8Array
}

const TWO_32 = 0x1_0000_0000
// ts ≤ 2^53-1 exactly when its high 32 bits are ≤ 2^21-1.
const TS_HI_MAX = 0x1f_ffff

function checkTs(ts: number | bigint): void {
  if (typeof ts === 'bigint' ? ts < 0n || ts > 0xffff_ffff_ffff_ffffn : !Number.isSafeInteger(ts) || ts < 0) {
    throw badPayload(`ts must be a u64 of µs (a safe integer or a bigint), got ${ts}`)
  }
}

function bodyBytes(body: Uint8Array | string): Uint8Array {
  if (typeof body === 'string') return Buffer.from(body, 'utf8')
  if (body instanceof Uint8Array) return body
  throw badPayload('body must be a Uint8Array or a string')
}

/** Bytes the record occupies on the wire (stream must be ASCII, as valid names are). */
export function recordSize(stream: string, body: Uint8Array): number {
  return 1 + stream.length + 8 + body.byteLength
}

/**
 * Write a record at `offset` into `target` (which must have room: see `recordSize`). Validates the
 * stream name and ts, throwing ProtocolError BAD_PAYLOAD, the code the server would NACK with.
 * Returns the offset past the record.
 */
export function writeRecord(
  target: Buffer,
  offset: number,
  stream: string,
  ts: number | bigint,
  body: Uint8Array,
): number {
  if (!isValidStreamName(stream)) throw badPayload(`invalid stream name ${JSON.stringify(String(stream))}`)
  checkTs(ts)
  target[offset] = stream.length
  target.write(stream, offset + 1, 'latin1')
  let o = offset + 1 + stream.length
  if (typeof ts === 'bigint') target.writeBigUInt64BE(ts, o)
  else {
    target.writeUInt32BE(Math.floor(ts / TWO_32), o)
    target.writeUInt32BE(ts % TWO_32, o + 4)
  }
  o += 8
  target.set(body, o)
  return o + body.byteLength
}

export function encodeRecord(record: RecordInput): Buffer {
  const body = bodyBytes(record.body)
  const stream = record.stream
  if (!isValidStreamName(stream)) throw badPayload(`invalid stream name ${JSON.stringify(String(stream))}`)
  const out = Buffer.allocUnsafe(recordSize(stream, body))
  writeRecord(out, 0, stream, record.ts ?? 0, body)
  return out
}

/** Normalise a RecordInput's body to bytes (strings are UTF-8). */
export function recordBody(body: Uint8Array | string): Uint8Array {
  return bodyBytes(body)
}

/**
 * Decode `bytes[start, end)` as one record. Throws ProtocolError BAD_PAYLOAD for a short record or
 * a bad stream name. Every u64 ts is valid: a bigint above Number.MAX_SAFE_INTEGER.
 */
export function decodeRecordAt(bytes: Uint8Array, start: number, end: number): DecodedRecord {
  if (end - start < 1) throw badPayload('empty record')
  const s = bytes[start]!
  const nameEnd = start + 1 + s
  if (nameEnd + 8 > end) throw badPayload('record shorter than its header')
  const stream = streamName(bytes, start + 1, nameEnd)
  const hi =
    ((bytes[nameEnd]! << 24) |
      (bytes[nameEnd + 1]! << 16) |
      (bytes[nameEnd + 2]! << 8) |
      bytes[nameEnd + 3]!) >>>
    0
  const lo =
    ((bytes[nameEnd + 4]! << 24) |
      (bytes[nameEnd + 5]! << 16) |
      (bytes[nameEnd + 6]! << 8) |
      bytes[nameEnd + 7]!) >>>
    0
  return {
    stream,
    // Above 2^53-1 only (a rare producer): the common ts costs no BigInt.
    ts: hi <= TS_HI_MAX ? hi * TWO_32 + lo : (BigInt(hi) << 32n) | BigInt(lo),
    body: bytes.subarray(nameEnd + 8, end),
  }
}

// Telemetry repeats a handful of stream names millions of times: the last name decoded is kept,
// so a repeat costs a byte compare instead of a validation pass and a new string (per thread).
const kLastName = new Uint8Array(255)
let lastNameLength = -1
let lastName = ''

function streamName(bytes: Uint8Array, start: number, end: number): string {
  const n = end - start
  if (n === lastNameLength) {
    let i = 0
    while (i < n && bytes[start + i] === kLastName[i]) i++
    if (i === n) return lastName
  }
  if (!isValidStreamBytes(bytes, start, end)) throw badPayload('invalid stream name')
  lastName = asBuffer(bytes).toString('latin1', start, end)
  kLastName.set(bytes.subarray(start, end))
  lastNameLength = n
  return lastName
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)
}

export function decodeRecord(bytes: Uint8Array): DecodedRecord {
  if (!(bytes instanceof Uint8Array)) throw new ProtocolError(ErrorCode.BAD_PAYLOAD, 'record must be bytes')
  return decodeRecordAt(bytes, 0, bytes.byteLength)
}
