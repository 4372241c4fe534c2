import type { Writable } from 'node:stream'

// A deliberately small human formatter for `--pretty` (a terminal during development). pino-pretty
// would pull in a dependency tree and, as a transport, a worker thread; this one is synchronous,
// so lines stay in order with whatever else writes to the terminal.
const kLabels: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO ',
  40: 'WARN ',
  50: 'ERROR',
  60: 'FATAL',
}
const kOmit = new Set(['level', 'time', 'msg', 'pid', 'hostname'])

export function formatPretty(line: string): string {
  let obj: Record<string, unknown>
  try {
    obj = JSON.parse(line)
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`
  }
  const time = typeof obj.time === 'number' ? new Date(obj.time).toISOString().slice(11, 23) : ''
  const level = kLabels[obj.level as number] ?? String(obj.level)
  const extras: string[] = []
  for (const [k, v] of Object.entries(obj)) {
    if (kOmit.has(k)) continue
    extras.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
  }
  const msg = typeof obj.msg === 'string' ? obj.msg : ''
  return `${time} ${level} ${msg}${extras.length ? ` ${extras.join(' ')}` : ''}\n`
}

/** Wrap a destination so it receives pretty lines instead of JSON. */
export function prettyStream(dest: Pick<Writable, 'write'>): { write(line: string): boolean } {
  return {
    write(line: string) {
      return dest.write(formatPretty(line))
    },
  }
}
