import { createError } from '@module-ingest/errors'
import { ErrorCode, errorName, isFatalCode } from './constants.ts'

/**
 * The one error the decoder and codecs throw, whatever bytes arrive. `code` is the MIP/1 numeric
 * code (the wire contract), `fatal` says whether it ends the connection (ERROR) or rejects one frame
 * (NACK), and `seq` is the offending frame's seq when the header was readable.
 */
export class ProtocolError extends Error {
  readonly code: number
  readonly fatal: boolean
  seq?: bigint

  /**
   * `options.fatal` overrides the spec's kind for `code`: a client that cannot parse a server
   * message uses BAD_PAYLOAD but must still drop the connection.
   */
  constructor(code: number, message: string, seq?: bigint, options?: ErrorOptions & { fatal?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ProtocolError'
    this.code = code
    this.fatal = options?.fatal ?? isFatalCode(code)
    if (seq !== undefined) this.seq = seq
  }

  /** The spec's name for `code`, e.g. `BAD_CHECKSUM`. */
  get codeName(): string {
    return errorName(this.code)
  }

  override toString(): string {
    return `ProtocolError [${this.codeName}(${this.code})]: ${this.message}`
  }
}

export function isProtocolError(err: unknown): err is ProtocolError {
  return err instanceof ProtocolError
}

// Shorthands keep call sites on one line and the codes greppable.
export const badPayload = (message: string, seq?: bigint, cause?: unknown): ProtocolError =>
  new ProtocolError(ErrorCode.BAD_PAYLOAD, message, seq, cause === undefined ? undefined : { cause })
export const badFrame = (message: string, seq?: bigint): ProtocolError =>
  new ProtocolError(ErrorCode.BAD_FRAME, message, seq)

// Package-level (programming) errors: wrong arguments to an encoder, not bad wire bytes.
export const MI_ERR_PROTOCOL_OPT_INVALID = createError<[string, string]>(
  'MI_ERR_PROTOCOL_OPT_INVALID',
  '%s must be %s',
)
export const MI_ERR_PROTOCOL_ENCODE = createError<[string]>('MI_ERR_PROTOCOL_ENCODE', 'cannot encode: %s')
