import type { StoredRecord } from '@module-ingest/log'
import { MI_ERR_RECOVER_USAGE } from './errors.ts'

// Record selection shared by dump and export. Time bounds compare the server receive time (rts),
// the same clock the reader's fromTimeUs positions by.

export type Bound = { lsn: number } | { timeUs: number }

/** "-5m", "-10s", "-2h", "-1d", "-500ms" → milliseconds ago, or undefined. */
export function parseRelativeMs(text: string): number | undefined {
  const m = /^-(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim())
  if (!m) return undefined
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms']
  return Number(m[1]) * unit
}

/** An LSN, an ISO date-time, a relative time like -5m, or "now". */
export function parseBound(flag: string, text: string, nowMs = Date.now()): Bound {
  if (/^\d+$/.test(text)) return { lsn: Number(text) }
  if (text === 'now') return { timeUs: nowMs * 1000 }
  const rel = parseRelativeMs(text)
  if (rel !== undefined) return { timeUs: Math.round((nowMs - rel) * 1000) }
  // Only strings that look like a date: Date.parse accepts odd things ("1", "x 2").
  const ms = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN
  if (!Number.isNaN(ms)) return { timeUs: ms * 1000 }
  throw new MI_ERR_RECOVER_USAGE(
    `${flag} expects an LSN, an ISO date-time or a relative time like -5m, got "${text}"`,
  )
}

/** Shell-style glob → RegExp: `*` any run of characters, `?` one character, `[…]` a class. */
export function globToRegExp(glob: string): RegExp {
  let re = ''
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!
    if (ch === '*') re += '.*'
    else if (ch === '?') re += '.'
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 2)
      if (end < 0) re += '\\['
      else {
        const body = glob.slice(i + 1, end).replace(/\\/g, '\\\\')
        re += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`
        i = end
      }
    } else re += ch.replace(/[.+^${}()|\\\]]/g, '\\$&')
  }
  return new RegExp(`^${re}$`, 's')
}

export const isGlob = (s: string): boolean => /[*?[]/.test(s)

export interface FilterFlags {
  stream?: string[]
  module?: string[]
  from?: string
  to?: string
  limit?: string
}

export interface Selection {
  /** Passed to reader.cursor(). */
  cursor: { fromLsn?: number; fromTimeUs?: number; streams?: string[] }
  /** Keep this record? */
  match: (r: StoredRecord) => boolean
  /** True once no later record can match (an upper bound was passed). */
  past: (r: StoredRecord) => boolean
  limit: number
  to: Bound | undefined
}

export function selection(f: FilterFlags, nowMs = Date.now()): Selection {
  const from = f.from === undefined ? undefined : parseBound('--from', f.from, nowMs)
  const to = f.to === undefined ? undefined : parseBound('--to', f.to, nowMs)
  let limit = Number.POSITIVE_INFINITY
  if (f.limit !== undefined) {
    if (!/^\d+$/.test(f.limit)) throw new MI_ERR_RECOVER_USAGE(`--limit expects a count, got "${f.limit}"`)
    limit = Number(f.limit)
  }
  const streams = f.stream?.map(globToRegExp)
  const modules = f.module?.map(globToRegExp)
  const cursor: Selection['cursor'] = {}
  if (from && 'lsn' in from) cursor.fromLsn = Math.max(1, from.lsn)
  if (from && 'timeUs' in from) cursor.fromTimeUs = from.timeUs
  // Exact names let the reader skip unwanted bodies without copying them.
  if (f.stream && !f.stream.some(isGlob)) cursor.streams = f.stream
  return {
    cursor,
    limit,
    to,
    match: (r) =>
      (!streams || streams.some((re) => re.test(r.stream))) &&
      (!modules || modules.some((re) => re.test(r.module))),
    // rts is stamped by one writer in append order, so the first record past --to ends the scan
    // (a backwards clock step on the server could hide later records; README "Limitations").
    past: (r) => (to === undefined ? false : 'lsn' in to ? r.lsn > to.lsn : r.rts > to.timeUs),
  }
}
