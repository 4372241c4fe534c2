import { format } from 'node:util'
import { toWire } from '@module-ingest/errors'
import type { LogFn, Logger } from '@module-ingest/subscriber-sdk'

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'

/** One log line on its way to another thread's logger. */
export interface ForwardedLine {
  level: LogLevel
  /** child() bindings, kept apart from the line's own fields: the receiver decides how to apply them. */
  bindings: Record<string, unknown>
  obj: Record<string, unknown> | undefined
  msg: string
}

/**
 * A Logger whose lines go to another thread: a pool worker's to the runtime, the runtime thread's
 * to the host. pino's call shapes (`(msg, ...args)`, `(obj, msg?, ...args)`) are resolved here, so
 * the receiver calls its own logger once per line. An `err` crosses as `{ code, message, cause,
 * stack }` because structured clone drops an Error's `code`; a line with a field that cannot be
 * cloned is sent with its text alone rather than lost.
 */
export function forwardingLogger(
  send: (line: ForwardedLine) => void,
  bindings: Record<string, unknown> = {},
): Logger {
  const at =
    (level: LogLevel): LogFn =>
    (first: unknown, ...rest: unknown[]) => {
      let obj: Record<string, unknown> | undefined
      let msg: string
      if (typeof first === 'string') msg = format(first, ...rest)
      else {
        obj = { ...(first as Record<string, unknown>) }
        const [m, ...args] = rest
        msg = typeof m === 'string' ? format(m, ...args) : ''
      }
      if (obj?.err instanceof Error) obj.err = { ...toWire(obj.err), stack: obj.err.stack }
      const line: ForwardedLine = { level, bindings, obj, msg }
      try {
        send(line)
      } catch {
        send({ ...line, obj: undefined })
      }
    }
  return {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: (b) => forwardingLogger(send, { ...bindings, ...b }),
  }
}
