/** One line a captureLogger kept: pino's (object, message) pair, with the child bindings merged in. */
export interface LogLine {
  /** Date.now() when it was logged. */
  atMs: number
  level: string
  obj: Record<string, unknown>
  msg: string
}

/**
 * A pino-shaped logger that keeps its lines (in `lines`, shared with its children), for tests that
 * assert what was logged: a subscriber runtime's events, a plugin's warnings.
 */
export function captureLogger(lines: LogLine[] = [], bindings: Record<string, unknown> = {}) {
  const at =
    (level: string) =>
    (first: unknown, ...rest: unknown[]) => {
      const atMs = Date.now()
      if (typeof first === 'string') lines.push({ atMs, level, obj: { ...bindings }, msg: first })
      else lines.push({ atMs, level, obj: { ...bindings, ...(first as object) }, msg: String(rest[0] ?? '') })
    }
  const logger = {
    lines,
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: (b: Record<string, unknown>) => captureLogger(lines, { ...bindings, ...b }),
  }
  return logger
}
