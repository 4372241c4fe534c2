import { format } from 'node:util'

/**
 * An error with a stable string code, e.g. `MI_ERR_LOG_SEGMENT_CORRUPT`.
 * Codes, not classes, are the contract: they survive `postMessage`, logs and process boundaries.
 */
export interface CodedError extends Error {
  readonly code: string
}

export interface CodedErrorClass<Args extends unknown[] = unknown[]> {
  new (...args: [...Args, ErrorOptions?] | Args): CodedError
  (...args: Args): CodedError
  readonly code: string
  readonly prototype: CodedError
}

// A global symbol so that two copies of this package (a plugin's own node_modules) still agree.
const kBrand = (code: string) => Symbol.for(`module-ingest.error ${code}`)

/**
 * Create an error class for one code. The message is a printf template (`%s`, `%d`) filled from the
 * constructor's arguments; a trailing `{ cause }` object is passed through as ErrorOptions.
 */
export function createError<Args extends unknown[] = unknown[]>(
  code: string,
  template: string,
  Base: ErrorConstructor = Error,
): CodedErrorClass<Args> {
  if (!/^MI_ERR_[A-Z0-9_]+$/.test(code)) throw new TypeError(`invalid error code ${code}`)
  const brand = kBrand(code)
  function MiError(this: unknown, ...args: unknown[]): CodedError {
    if (!new.target) return new (MiError as unknown as new (...a: unknown[]) => CodedError)(...args)
    const last = args.at(-1)
    const options =
      last !== null && typeof last === 'object' && 'cause' in last ? (args.pop() as ErrorOptions) : undefined
    const err = Reflect.construct(Base, [format(template, ...args), options], new.target) as CodedError & {
      [k: symbol]: boolean
    }
    err[brand] = true
    return err
  }
  Object.setPrototypeOf(MiError.prototype, Base.prototype)
  Object.setPrototypeOf(MiError, Base)
  Object.defineProperties(MiError.prototype, {
    name: { value: 'MiError', writable: true, configurable: true },
    code: { value: code, enumerable: true },
    toString: {
      value(this: Error & { code: string }) {
        return `${this.name} [${this.code}]: ${this.message}`
      },
    },
  })
  Object.defineProperty(MiError, 'code', { value: code })
  Object.defineProperty(MiError, Symbol.hasInstance, {
    value: (v: unknown) =>
      v !== null && typeof v === 'object' && (v as Record<symbol, unknown>)[brand] === true,
  })
  return MiError as unknown as CodedErrorClass<Args>
}

/** The serialisable shape an error takes across a thread or process boundary. */
export interface WireError {
  code: string
  message: string
  cause?: WireError
  /**
   * Set by whoever raised a retryable error and already paced itself (e.g. it probed its
   * downstream while it waited): how soon the caller may retry. Kept across the wire because the
   * subscriber runtime's retry loop runs on another thread than the plugin that knows.
   */
  retryAfterMs?: number
}

/** Errors lose their class and `code` through structured clone: send this instead. */
export function toWire(err: unknown): WireError {
  if (err instanceof Error) {
    const { code: maybe } = err as { code?: unknown }
    const code = typeof maybe === 'string' ? maybe : 'MI_ERR_INTERNAL'
    const wire: WireError = { code, message: err.message }
    if (err.cause !== undefined) wire.cause = toWire(err.cause)
    const { retryAfterMs } = err as { retryAfterMs?: unknown }
    if (typeof retryAfterMs === 'number' && retryAfterMs >= 0) wire.retryAfterMs = retryAfterMs
    return wire
  }
  return { code: 'MI_ERR_INTERNAL', message: String(err) }
}

/** Rebuild an error from its wire shape; `code` is kept even when no class is registered for it. */
export function fromWire(wire: WireError): CodedError {
  const options = wire.cause ? { cause: fromWire(wire.cause) } : undefined
  const err = new Error(wire.message, options) as Error & { code: string; retryAfterMs?: number }
  err.code = wire.code
  if (wire.retryAfterMs !== undefined) err.retryAfterMs = wire.retryAfterMs
  err.name = 'MiError'
  return err
}

/**
 * The line every command-line tool prints on stderr for an error: `error: MI_ERR_X: message`, so an
 * operator can look the code up in docs/errors.md. Only `MI_ERR_*` codes are shown: a Node error's
 * message already starts with its own code (`ENOENT: no such file…`). No trailing newline.
 */
export function errorLine(err: unknown): string {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown }
  const text = typeof message === 'string' ? message : String(err)
  return typeof code === 'string' && code.startsWith('MI_ERR_') && !text.startsWith(code)
    ? `error: ${code}: ${text}`
    : `error: ${text}`
}
