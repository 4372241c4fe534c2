import { constants as zlibConstants, zstdCompressSync, zstdDecompressSync } from 'node:zlib'
import { Flags, MAX_BATCH_RECORDS } from './constants.ts'
import { badPayload } from './errors.ts'
import {
  type DecodedRecord,
  decodeRecordAt,
  type RecordInput,
  recordBody,
  recordSize,
  writeRecord,
} from './record.ts'

/**
 * BATCH payload: `u32 N` (1..65535), then N × (`u32 R`, R bytes of record), nothing after.
 * With flag COMPRESSED the frame payload is one zstd frame whose content is that payload; its
 * decompressed size must not exceed `max_frame`.
 */

export interface EncodeBatchOptions {
  /** zstd-compress the payload (sets the COMPRESSED flag). Default false. */
  compress?: boolean
  /** zstd level when compressing; default 3 (zstd's default). */
  level?: number
}

export interface EncodedBatch {
  payload: Buffer
  /** Frame flags to send with this payload: Flags.COMPRESSED or 0. */
  flags: number
}

/** Encode records into a BATCH payload. Throws ProtocolError BAD_PAYLOAD for N outside 1..65535 or a bad record. */
export function encodeBatch(records: readonly RecordInput[], opts?: EncodeBatchOptions): EncodedBatch {
  const n = records.length
  if (n < 1 || n > MAX_BATCH_RECORDS)
    throw badPayload(`a BATCH holds 1..${MAX_BATCH_RECORDS} records, got ${n}`)
  const bodies = new Array<Uint8Array>(n)
  let size = 4
  for (let i = 0; i < n; i++) {
    const r = records[i]!
    const body = recordBody(r.body)
    bodies[i] = body
    size += 4 + recordSize(String(r.stream), body)
  }
  const out = Buffer.allocUnsafe(size)
  out.writeUInt32BE(n, 0)
  let o = 4
  for (let i = 0; i < n; i++) {
    const r = records[i]!
    const end = writeRecord(out, o + 4, r.stream, r.ts ?? 0, bodies[i]!)
    out.writeUInt32BE(end - o - 4, o)
    o = end
  }
  if (!opts?.compress) return { payload: out, flags: 0 }
  const params =
    opts.level === undefined ? undefined : { params: { [zlibConstants.ZSTD_c_compressionLevel]: opts.level } }
  return { payload: zstdCompressSync(out, params), flags: Flags.COMPRESSED }
}

/**
 * Decode a BATCH payload (`flags` from its frame). Records' bodies are views into the (decompressed)
 * payload. Every malformation — bad count, short or trailing bytes, a bad record, an undecodable zstd
 * frame, or one that decompresses past `maxFrame` — is ProtocolError BAD_PAYLOAD.
 */
export function decodeBatch(payload: Uint8Array, flags: number, maxFrame: number): DecodedRecord[] {
  let bytes = payload
  if ((flags & Flags.COMPRESSED) !== 0) {
    // zstd itself decodes concatenated frames and skips skippable ones: the spec says *one* frame,
    // so anything after it (bytes, a second frame) is BAD_PAYLOAD, not silently accepted.
    const frameEnd = zstdFrameEnd(payload)
    if (frameEnd < 0) throw badPayload('COMPRESSED payload is not one well-formed zstd frame')
    if (frameEnd !== payload.byteLength)
      throw badPayload(`${payload.byteLength - frameEnd} bytes after the zstd frame of a COMPRESSED BATCH`)
    try {
      // maxOutputLength bounds memory: a zstd bomb fails here instead of inflating.
      bytes = zstdDecompressSync(payload, { maxOutputLength: Math.max(1, maxFrame) })
    } catch (err) {
      throw badPayload('undecodable or oversized zstd payload', undefined, err)
    }
    if (bytes.byteLength > maxFrame) throw badPayload('decompressed BATCH exceeds max_frame')
  }
  const end = bytes.byteLength
  if (end < 4) throw badPayload('BATCH shorter than its count')
  const n = readU32(bytes, 0)
  if (n < 1 || n > MAX_BATCH_RECORDS) throw badPayload(`BATCH count ${n} outside 1..${MAX_BATCH_RECORDS}`)
  // Each entry takes at least 4 + 10 bytes: reject absurd counts before allocating the array.
  if (4 + n * 14 > end) throw badPayload('BATCH shorter than its count implies')
  const out = new Array<DecodedRecord>(n)
  let o = 4
  for (let i = 0; i < n; i++) {
    if (o + 4 > end) throw badPayload(`BATCH truncated at record ${i}`)
    const r = readU32(bytes, o)
    o += 4
    if (r > end - o) throw badPayload(`BATCH record ${i} overruns the payload`)
    out[i] = decodeRecordAt(bytes, o, o + r)
    o += r
  }
  if (o !== end) throw badPayload(`${end - o} trailing bytes after BATCH records`)
  return out
}

/**
 * Where the zstd frame starting at byte 0 ends (RFC 8878 §3.1.1: header, then blocks until the one
 * flagged last, then an optional 4-byte checksum), or -1 when the bytes are not a zstd frame or it
 * is truncated. Block contents are not decoded here: zstd checks those.
 */
export function zstdFrameEnd(b: Uint8Array): number {
  const len = b.byteLength
  if (len < 5) return -1
  // Magic 0xFD2FB528, little-endian.
  if (b[0] !== 0x28 || b[1] !== 0xb5 || b[2] !== 0x2f || b[3] !== 0xfd) return -1
  const fhd = b[4]!
  if ((fhd & 0x08) !== 0) return -1 // reserved bit
  const fcsFlag = fhd >> 6
  const singleSegment = (fhd >> 5) & 1
  const checksum = (fhd >> 2) & 1
  const didFlag = fhd & 3
  let o = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][didFlag]! + [singleSegment, 2, 4, 8][fcsFlag]!
  for (;;) {
    if (o + 3 > len) return -1
    const h = b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)
    o += 3
    const last = h & 1
    const type = (h >> 1) & 3
    const size = h >>> 3
    if (type === 3) return -1
    o += type === 1 ? 1 : size
    if (o > len) return -1
    if (last) break
  }
  o += checksum ? 4 : 0
  return o > len ? -1 : o
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0
}
