import { readFileSync } from 'node:fs'
import type { LogPosition } from '@module-ingest/subscriber-runtime'
import { MI_ERR_QUEUE_WORKER_ARG_INVALID } from './errors.ts'

/** `--from` / `--to`: digits are an LSN, anything else a date Date.parse() accepts (→ µs). */
export function parsePosition(flag: string, v: string | undefined): LogPosition | undefined {
  if (v === undefined) return undefined
  if (/^\d+$/.test(v)) {
    const lsn = Number(v)
    if (!Number.isSafeInteger(lsn) || lsn < 1)
      throw new MI_ERR_QUEUE_WORKER_ARG_INVALID(flag, 'an LSN is >= 1')
    return { lsn }
  }
  const ms = Date.parse(v)
  if (Number.isNaN(ms)) throw new MI_ERR_QUEUE_WORKER_ARG_INVALID(flag, `not an LSN or a date: ${v}`)
  return { timeUs: ms * 1000 }
}

/** `--options`: inline JSON, or `@path` to a JSON file. */
export function parseOptions(v: string | undefined): unknown {
  if (v === undefined) return undefined
  let text = v
  if (v.startsWith('@')) {
    try {
      text = readFileSync(v.slice(1), 'utf8')
    } catch (err) {
      throw new MI_ERR_QUEUE_WORKER_ARG_INVALID('--options', (err as Error).message)
    }
  }
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new MI_ERR_QUEUE_WORKER_ARG_INVALID('--options', `invalid JSON: ${(err as Error).message}`)
  }
}

export function positiveInt(flag: string) {
  return (v: string): number => {
    const n = Number(v)
    if (!Number.isSafeInteger(n) || n < 1)
      throw new MI_ERR_QUEUE_WORKER_ARG_INVALID(flag, 'must be an integer >= 1')
    return n
  }
}

/** A subscriber name from the plugin specifier: `./plugins/_my-plugin.ts` → `my-plugin`. */
export function nameFromUse(use: string): string {
  const base = use
    .split(/[\\/]/)
    .at(-1)!
    .replace(/\.[cm]?[jt]s$/, '')
    .replace(/^@[^/]*\//, '')
  const clean = base
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 48)
  return clean === '' ? 'plugin' : clean
}
