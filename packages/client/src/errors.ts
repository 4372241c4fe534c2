import { type CodedError, createError } from '@module-ingest/errors'
import { ErrorCode, errorName } from '@module-ingest/protocol'

// Options
export const MI_ERR_CLIENT_OPT_INVALID = createError<[string, string]>(
  'MI_ERR_CLIENT_OPT_INVALID',
  '%s must be %s',
)

// Per-frame rejection: the server NACKed it, or it was rejected locally for the reason the server
// would NACK it (bad stream name, frame over max_frame). `wireCode`/`wireName` carry the MIP/1 code.
export const MI_ERR_CLIENT_NACK = createError<[string, string, number, string]>(
  'MI_ERR_CLIENT_NACK',
  'frame %s rejected: %s (%d): %s',
)

// The session ended with a permanent ERROR (AUTH_FAILED, SUPERSEDED, …): the client stops.
export const MI_ERR_CLIENT_FATAL = createError<[string, number, string]>(
  'MI_ERR_CLIENT_FATAL',
  'server ended the session permanently: %s (%d): %s',
)

// The client was closed before the frame settled.
export const MI_ERR_CLIENT_CLOSED = createError<[]>(
  'MI_ERR_CLIENT_CLOSED',
  'client closed before the frame settled',
)

// Connection-level failures that trigger a reconnect (reported through 'error' / 'disconnected').
export const MI_ERR_CLIENT_CONNECTION = createError<[string]>(
  'MI_ERR_CLIENT_CONNECTION',
  'connection lost: %s',
)

// connect() did not reach a session within connectTimeoutMs: server down, wrong port, TLS mismatch.
export const MI_ERR_CLIENT_CONNECT_TIMEOUT = createError<[string, number, string]>(
  'MI_ERR_CLIENT_CONNECT_TIMEOUT',
  'no session with %s within %d ms: %s',
)

// Gave up after reconnect.maxAttempts consecutive failures.
export const MI_ERR_CLIENT_GAVE_UP = createError<[number]>(
  'MI_ERR_CLIENT_GAVE_UP',
  'gave up after %d attempts',
)

/** An error carrying a MIP/1 numeric code. */
export interface WireCodedError extends CodedError {
  /** The MIP/1 error code, e.g. 7 for FORBIDDEN. */
  wireCode: number
  /** The spec's name for it, e.g. 'FORBIDDEN'. */
  wireName: string
  /** The frame's seq, when it had one. */
  seq?: bigint
}

export function nackError(seq: bigint | undefined, code: number, message: string): WireCodedError {
  const name = errorName(code)
  const err = new MI_ERR_CLIENT_NACK(seq === undefined ? '(unsent)' : String(seq), name, code, message)
  return Object.assign(err, { wireCode: code, wireName: name, ...(seq === undefined ? {} : { seq }) })
}

/** A transient ERROR from the server (SHUTTING_DOWN, OVERLOADED, …): the client reconnects. */
export function transientError(code: number, message: string): WireCodedError {
  const name = errorName(code)
  const err = new MI_ERR_CLIENT_CONNECTION(`server sent ${name} (${code}): ${message}`)
  return Object.assign(err, { wireCode: code, wireName: name })
}

export function fatalError(code: number, message: string): WireCodedError {
  const name = errorName(code)
  return Object.assign(new MI_ERR_CLIENT_FATAL(name, code, message), { wireCode: code, wireName: name })
}

/** Errors after which reconnecting cannot help: the client fails and rejects everything pending. */
export const PERMANENT_CODES: ReadonlySet<number> = new Set([
  ErrorCode.BAD_MAGIC,
  ErrorCode.UNSUPPORTED_VERSION,
  ErrorCode.FRAME_TOO_LARGE,
  ErrorCode.AUTH_REQUIRED,
  ErrorCode.AUTH_FAILED,
  ErrorCode.SUPERSEDED,
  ErrorCode.UNSUPPORTED_TYPE,
  ErrorCode.BAD_FRAME,
])
