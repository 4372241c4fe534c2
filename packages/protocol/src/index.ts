export type { EncodeBatchOptions, EncodedBatch } from './batch.ts'
export { decodeBatch, encodeBatch } from './batch.ts'
export type { ErrorKind } from './constants.ts'
export {
  CLIENT_TYPES,
  CRC_BYTES,
  DEFAULT_MAX_FRAME,
  ErrorCode,
  ErrorCodeName,
  errorKind,
  errorName,
  Flags,
  FrameType,
  FrameTypeName,
  HEADER_BYTES,
  isErrorCode,
  isFatalCode,
  KNOWN_FLAGS,
  MAC_BYTES,
  MAGIC,
  MAX_BATCH_RECORDS,
  MAX_HELLO_PAYLOAD,
  MAX_MODULE_NAME,
  MAX_PING_PAYLOAD,
  MAX_STREAM_NAME,
  NACK_CODES,
  NONCE_BYTES,
  PROOF_BYTES,
  SERVER_TYPES,
  VERSION,
} from './constants.ts'
export type { Frame, FrameDecoderOptions } from './decoder.ts'
export { FrameDecoder } from './decoder.ts'
export type { EncodeFrameOptions } from './encode.ts'
export {
  dataFrameSize,
  encodeAck,
  encodeBatchFrame,
  encodeData,
  encodeError,
  encodeFrame,
  encodeHello,
  encodeHelloOk,
  encodeNack,
  encodePing,
  encodePong,
  encodeWelcome,
  frameSize,
  writeAck,
  writeData,
  writeHeader,
  writeTrailer,
} from './encode.ts'
export {
  isProtocolError,
  MI_ERR_PROTOCOL_ENCODE,
  MI_ERR_PROTOCOL_OPT_INVALID,
  ProtocolError,
} from './errors.ts'
export type { CodeMessage, Hello, HelloOk, Welcome } from './handshake.ts'
export { decodeHello, decodeHelloOk, decodeNackOrError, decodeWelcome, encodeBody } from './handshake.ts'
export { frameCrc, frameMac, hmacProof, hmacSha256, proofEquals, sessionKey, verifyMac } from './mac.ts'
export {
  isReservedModuleName,
  isValidCoreName,
  isValidModuleName,
  isValidStreamBytes,
  isValidStreamName,
  matchPattern,
  matchScope,
  RESERVED_MODULE_PREFIX,
} from './names.ts'
export type { DecodedRecord, RecordInput } from './record.ts'
export { decodeRecord, decodeRecordAt, encodeRecord, recordBody, recordSize, writeRecord } from './record.ts'
