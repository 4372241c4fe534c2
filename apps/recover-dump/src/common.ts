import fs from 'node:fs'
import path from 'node:path'
import type { Command } from 'commander'
import { MI_ERR_RECOVER_NO_LOG, MI_ERR_RECOVER_USAGE } from './errors.ts'

/**
 * Exit codes, shared by every command (README "Exit codes"):
 * 0 ok · 1 runtime failure · 2 bad usage · 3 the log is damaged · 4 a live writer holds the log.
 */
export const kExit = { ok: 0, failure: 1, usage: 2, corrupt: 3, locked: 4 } as const

export interface DirFlags {
  dataDir?: string
  logDir?: string
}

/** The two ways to name the log every command accepts. */
export function dirOptions(cmd: Command): Command {
  return cmd
    .option('-d, --data-dir <dir>', "the server's data dir (the log is <dir>/log)")
    .option('-l, --log-dir <dir>', 'the log directory itself')
}

/** Resolve --data-dir / --log-dir to the log directory, checking that it holds a log. */
export function resolveLogDir(flags: DirFlags): string {
  if (flags.dataDir && flags.logDir) throw new MI_ERR_RECOVER_USAGE('give --data-dir or --log-dir, not both')
  const dir = flags.logDir ?? (flags.dataDir ? path.join(flags.dataDir, 'log') : undefined)
  if (!dir) throw new MI_ERR_RECOVER_USAGE('one of --data-dir <dir> or --log-dir <dir> is required')
  const abs = path.resolve(dir)
  let names: string[]
  try {
    names = fs.readdirSync(abs)
  } catch {
    throw new MI_ERR_RECOVER_NO_LOG(abs)
  }
  if (!names.some((n) => n.endsWith('.seg'))) throw new MI_ERR_RECOVER_NO_LOG(abs)
  return abs
}

/** Commander collector for repeatable options. */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v]

export function positiveInt(flag: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text)))
    throw new MI_ERR_RECOVER_USAGE(`${flag} expects a positive integer, got "${text}"`)
  return Number(text)
}

export { formatBytes } from '@module-ingest/telemetry/progress'

/** µs since epoch → ISO string ('' for unknown). */
export function isoUs(us: number | undefined): string {
  return us === undefined || us < 0 ? '' : new Date(Math.floor(us / 1000)).toISOString()
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`)
}

/** A plain text table: columns padded to their widest cell, numbers right-aligned. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))]
  const widths = headers.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)))
  const numeric = headers.map((_, c) => rows.length > 0 && rows.every((r) => typeof r[c] === 'number'))
  return cells
    .map((r) =>
      r
        .map((cell, c) => (numeric[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

/**
 * Line output to stdout with backpressure. A closed pipe (`| head`) ends the output quietly:
 * `closed` turns true and the command stops reading the log.
 */
export class LineOut {
  closed = false
  #s: NodeJS.WriteStream
  constructor(stream: NodeJS.WriteStream = process.stdout) {
    this.#s = stream
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') this.closed = true
      else throw err
    })
  }
  async line(text: string): Promise<void> {
    if (this.closed) return
    if (!this.#s.write(`${text}\n`)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#s.off('drain', done)
          this.#s.off('close', done)
          resolve()
        }
        this.#s.once('drain', done)
        this.#s.once('close', done)
      })
    }
  }
}
