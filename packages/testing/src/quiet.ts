/**
 * A logger and metrics that drop everything, shaped like a subscriber's `ctx.logger` and
 * `ctx.metrics`: for benchmarks that drive a subscriber's parts directly, where the test kit's
 * recording logger would be measured too.
 */
const noop = (): void => {}

export interface QuietLogger {
  trace(...args: unknown[]): void
  debug(...args: unknown[]): void
  info(...args: unknown[]): void
  warn(...args: unknown[]): void
  error(...args: unknown[]): void
  fatal(...args: unknown[]): void
  child(bindings?: object): QuietLogger
}

export const quietLogger: QuietLogger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  fatal: noop,
  child: () => quietLogger,
}

export const noopMetrics = {
  counter: () => ({ inc: noop }),
  histogram: () => ({ record: noop }),
  gauge: () => ({ set: noop }),
}
