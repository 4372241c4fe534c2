/**
 * Records into MIP/1 frames, client side: the checks that reject a record locally with the code
 * the server would NACK it with (so a doomed record never takes a seq), the BATCH payload, and
 * re-sealing a queued frame for a later session. Pure functions: client.ts owns seqs and keys.
 */
import {
  type EncodedBatch,
  ErrorCode,
  encodeBatch,
  Flags,
  frameSize,
  HEADER_BYTES,
  isValidStreamName,
  ProtocolError,
  type RecordInput,
  recordSize,
  writeTrailer,
} from '@module-ingest/protocol'
import { nackError, type WireCodedError } from './errors.ts'

/** Why the server would NACK this DATA record (stream name, ts, size), or null when it would not. */
export function checkRecord(
  stream: string,
  bytes: Uint8Array,
  ts: number | bigint,
  maxFrame: number,
): WireCodedError | null {
  if (!isValidStreamName(stream)) {
    return nackError(undefined, ErrorCode.BAD_PAYLOAD, `invalid stream name ${JSON.stringify(stream)}`)
  }
  if (typeof ts === 'bigint' ? ts < 0n || ts > 0xffff_ffff_ffff_ffffn : !Number.isSafeInteger(ts) || ts < 0) {
    return nackError(
      undefined,
      ErrorCode.BAD_PAYLOAD,
      'ts must be a u64: a safe non-negative integer or a bigint',
    )
  }
  if (recordSize(stream, bytes) > maxFrame) {
    return nackError(undefined, ErrorCode.FRAME_TOO_LARGE, `record exceeds max_frame ${maxFrame}`)
  }
  return null
}

/** The BATCH payload and its flags, or the error the server would NACK the batch with. */
export function batchPayload(
  records: readonly RecordInput[],
  compress: boolean,
  maxFrame: number,
): EncodedBatch | WireCodedError {
  try {
    const plain = encodeBatch(records)
    if (plain.payload.byteLength > maxFrame) {
      const code = compress ? ErrorCode.BAD_PAYLOAD : ErrorCode.FRAME_TOO_LARGE
      return nackError(undefined, code, `batch exceeds max_frame ${maxFrame}`)
    }
    return compress ? encodeBatch(records, { compress: true }) : plain
  } catch (err) {
    const code = err instanceof ProtocolError ? err.code : ErrorCode.BAD_PAYLOAD
    return nackError(undefined, code, (err as Error).message)
  }
}

/** Rewrite a frame's MAC flag and trailer for the current session (in place when the size fits). */
export function reseal(frame: Buffer, macKey: Uint8Array | null): Buffer {
  const len = frame.readUInt32BE(8)
  const want = frameSize(len, macKey !== null)
  const out = want === frame.length ? frame : Buffer.allocUnsafe(want)
  if (out !== frame) frame.copy(out, 0, 0, HEADER_BYTES + len)
  const flags = out.readUInt16BE(4)
  out.writeUInt16BE(macKey ? flags | Flags.MAC : flags & ~Flags.MAC, 4)
  writeTrailer(out, 0, len, macKey)
  return out
}
