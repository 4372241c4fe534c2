/**
 * MIP/1 constants. /work/shared/PROTOCOL.md is normative; these tables mirror it exactly.
 *
 * Frame layout (big-endian):
 *
 * ```
 *  0      2   3    4       6          8      12          20        20+L
 *  ┌──────┬───┬────┬───────┬──────────┬──────┬───────────┬─────────┬──────────────┐
 *  │ "MI" │ 1 │type│ flags │ reserved │  L   │  seq u64  │ payload │ CRC-32 / MAC │
 *  └──────┴───┴────┴───────┴──────────┴──────┴───────────┴─────────┴──────────────┘
 *                                                                    4 B     16 B
 * ```
 */

export const MAGIC = 0x4d49
export const VERSION = 1
export const HEADER_BYTES = 20
export const CRC_BYTES = 4
export const MAC_BYTES = 16
/** Default `max_frame` (largest payload `L`) a server announces when not configured otherwise. */
export const DEFAULT_MAX_FRAME = 1024 * 1024
export const MAX_PING_PAYLOAD = 64
/**
 * Largest payload a server accepts before HELLO_OK, when only a HELLO may come. A HELLO holds two
 * names of ≤ 128 bytes, a token or a 16+32-byte proof, and short optional strings: a few hundred
 * bytes. Capping pre-auth frames here keeps an unauthenticated peer from making the server buffer
 * up to max_frame per socket.
 */
export const MAX_HELLO_PAYLOAD = 4096
export const MAX_BATCH_RECORDS = 65535
export const MAX_STREAM_NAME = 255
export const MAX_MODULE_NAME = 128
export const NONCE_BYTES = 16
export const PROOF_BYTES = 32

export const FrameType = {
  WELCOME: 0x01,
  HELLO: 0x02,
  HELLO_OK: 0x03,
  DATA: 0x10,
  BATCH: 0x11,
  ACK: 0x20,
  NACK: 0x21,
  PING: 0x30,
  PONG: 0x31,
  ERROR: 0x7f,
} as const
export type FrameType = (typeof FrameType)[keyof typeof FrameType]

export const FrameTypeName: Readonly<Record<number, string>> = Object.freeze(
  Object.fromEntries(Object.entries(FrameType).map(([k, v]) => [v, k])),
)

/** Types a client may send: the only ones a decoder with role 'server' accepts. */
export const CLIENT_TYPES: ReadonlySet<number> = new Set([
  FrameType.HELLO,
  FrameType.DATA,
  FrameType.BATCH,
  FrameType.PING,
  FrameType.PONG,
])
/** Types a server may send: the only ones a decoder with role 'client' accepts. */
export const SERVER_TYPES: ReadonlySet<number> = new Set([
  FrameType.WELCOME,
  FrameType.HELLO_OK,
  FrameType.ACK,
  FrameType.NACK,
  FrameType.PING,
  FrameType.PONG,
  FrameType.ERROR,
])

export const Flags = {
  NONE: 0,
  COMPRESSED: 0x0001,
  MAC: 0x0002,
} as const
export const KNOWN_FLAGS = Flags.COMPRESSED | Flags.MAC

export const ErrorCode = {
  BAD_MAGIC: 1,
  UNSUPPORTED_VERSION: 2,
  FRAME_TOO_LARGE: 3,
  BAD_CHECKSUM: 4,
  AUTH_REQUIRED: 5,
  AUTH_FAILED: 6,
  FORBIDDEN: 7,
  BAD_SEQ: 8,
  BAD_PAYLOAD: 9,
  RATE_LIMITED: 10,
  OVERLOADED: 11,
  SHUTTING_DOWN: 12,
  SUPERSEDED: 13,
  HANDSHAKE_TIMEOUT: 14,
  UNSUPPORTED_TYPE: 15,
  IDLE_TIMEOUT: 16,
  BAD_MAC: 17,
  TOO_MANY_CONNECTIONS: 18,
  BAD_FRAME: 19,
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

export const ErrorCodeName: Readonly<Record<number, string>> = Object.freeze(
  Object.fromEntries(Object.entries(ErrorCode).map(([k, v]) => [v, k])),
)

/** NACK codes reject one frame and the connection goes on; every other code is fatal (ERROR). */
export const NACK_CODES: ReadonlySet<number> = new Set([
  ErrorCode.FORBIDDEN,
  ErrorCode.BAD_SEQ,
  ErrorCode.BAD_PAYLOAD,
])

export type ErrorKind = 'fatal' | 'nack'

export function errorKind(code: number): ErrorKind {
  return NACK_CODES.has(code) ? 'nack' : 'fatal'
}

export function isFatalCode(code: number): boolean {
  return !NACK_CODES.has(code)
}

export function errorName(code: number): string {
  return ErrorCodeName[code] ?? `UNKNOWN_${code}`
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'number' && Number.isInteger(code) && code >= 1 && code <= 19
}
