// Pre-encoded appends: a parser thread encodes an append's records in the log's own record format
// (CRC included), and the one writer thread only maps names to catalog ids and copies the bytes.
// See "Parse once" in index.ts. This is '@module-ingest/log/entry', imported by parser threads, so
// what it pulls in stays light (format.ts, varint-at.ts and node:zlib). The parts:
//
//   entry-format.ts   the encoded append's layout, its constants, peeks at rts / body bytes
//   entry-encoder.ts  AppendEncoder: the parser's side, one encoded append per frame or batch
//   entry-reader.ts   EncodedReader: the writer's side, header parse and names → catalog ids
//   entry-batch.ts    writing an encoded append into a forming group, with the lazy group CRC
//   crc32-combine.ts  crc(A‖B) from crc(A), crc(B), |B|: a parser's CRC folded in unread
export { AppendEncoder } from './entry-encoder.ts'
export {
  type EncodedHeader,
  encodedBodyBytes,
  encodedRts,
  kEncodedVersion,
  kMaxNameChars,
  kParserCrcBytes,
} from './entry-format.ts'
export { EncodedReader } from './entry-reader.ts'
