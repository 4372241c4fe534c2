// The encoded append's layout and the constants both sides share: the parser's encoder
// (entry-encoder.ts) writes it, the writer's reader (entry-reader.ts) parses it. Light on purpose
// (parser threads import it through '@module-ingest/log/entry'): no imports at all.

/**
 * An encoded append (the bytes a parser hands the writer; never stored as such):
 *
 *   u8 version (1) | u8 flags (1: crc is set, 2: a ts above 2^53-1) | f64le rts | f64le firstTs
 *   | u64le seq | u32le count | u32le crc32(records) | f64le bodyBytes | varint len · module | varint len · core
 *   | varint k | k × (varint len · stream) | records: count × record (index.ts, flag 4)
 *
 * Names are UTF-8. A record's stream index points into the k stream names of this append; the
 * writer turns those into catalog ids once per append (the batch's name table), so `records` is
 * copied into the group as is.
 *
 * CRC: a crc32 call costs ~0.5 µs before the first byte, and the writer's group CRC covers ~1 MiB
 * in one call, so for small appends (a DATA frame) the writer folds them in with that one pass
 * (cheaper than a call per frame on either thread). From kParserCrcBytes of records up (a BATCH)
 * the parser computes their CRC and the writer combines it (crc32Combine) without reading them.
 */
export const kEncodedVersion = 1
export const kFlagCrc = 1
/** A record's ts is above 2^53-1: its group must be written with format.ts kFlagTs64. */
export const kFlagTs64 = 2
/** Records from this size up are CRC'd by the encoder (the parser), below it by the writer. */
export const kParserCrcBytes = 2048
/** Bytes of the fixed part of the header (version … bodyBytes), before the names. */
export const kFixedBytes = 42
/** Longest module, core or stream name append() accepts, in UTF-16 units. */
export const kMaxNameChars = 1024

/** Receive time (µs) of an encoded append, without parsing the rest. */
export function encodedRts(b: Uint8Array): number {
  return dataView(b).getFloat64(b.byteOffset + 2, true)
}
/** Sum of the record bodies' lengths of an encoded append. */
export function encodedBodyBytes(b: Uint8Array): number {
  return dataView(b).getFloat64(b.byteOffset + 34, true)
}

// Ring entries are views into one SharedArrayBuffer per ring: one DataView per buffer, not per entry.
let dvBuffer: ArrayBufferLike | undefined
let dv: DataView = new DataView(new ArrayBuffer(0))
export function dataView(b: Uint8Array): DataView {
  if (b.buffer !== dvBuffer) {
    dvBuffer = b.buffer
    dv = new DataView(b.buffer)
  }
  return dv
}

/** The parsed header of an encoded append (one reused object per reader). */
export interface EncodedHeader {
  rts: number
  firstTs: number
  seq: bigint
  count: number
  /** crc32 of the records, or -1 when the encoder left it to the writer (small appends). */
  crc: number
  /** A record's ts is above 2^53-1 (its group needs format.ts kFlagTs64). */
  ts64: boolean
  module: string
  core: string
  /** Byte offsets (within the append) of the name table (varint k · names) and of the records. */
  tableStart: number
  recordsStart: number
}
