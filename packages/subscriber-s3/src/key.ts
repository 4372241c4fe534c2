/**
 * Object keys. A key is `<group prefix><firstLsn><sep><lastLsn><tail>`:
 *
 *   {prefix}/{stream}/{yyyy}/{mm}/{dd}/{hh}/{source}-{firstLsn}-{lastLsn}.{ext}
 *   └──────────── group prefix: same for every record of one object ─────┘       └ tail ┘
 *
 * Everything before `{firstLsn}` is rendered from one record (its stream, time bucket…): records
 * with the same rendering form one group, and one group's records of one batch become one object
 * (or several, split by size). The lsn range comes last so a LIST of the group prefix returns
 * every object of the group, and the range of each is read back from its key alone.
 */
import { MI_ERR_S3_KEY_TEMPLATE } from './errors.ts'

export const DEFAULT_KEY_TEMPLATE =
  '{prefix}/{stream}/{yyyy}/{mm}/{dd}/{hh}/{source}-{firstLsn}-{lastLsn}.{ext}'

/** Placeholders filled from the record. */
const kRecordFields = ['stream', 'module', 'core'] as const
const kTimeFields = ['yyyy', 'mm', 'dd', 'hh', 'mi'] as const
const kConstFields = ['prefix', 'source', 'ext'] as const
const kKnown = new Set<string>([...kRecordFields, ...kTimeFields, ...kConstFields, 'firstLsn', 'lastLsn'])

/** LSNs are zero-padded so keys of one group sort by lsn (longer numbers just get longer). */
export const LSN_DIGITS = 12

export interface KeyRecord {
  stream: string
  module: string
  core: string
  /** A bigint above 2^53-1 (SubscriberRecord); time placeholders use it as a float64. */
  ts: number | bigint
  rts: number
}

export interface KeyContext {
  prefix: string
  source: string
  ext: string
  timeField: 'rts' | 'ts'
}

type Part = { lit: string } | { ph: string }

function parse(template: string): Part[] {
  const parts: Part[] = []
  const re = /\{([A-Za-z]+)\}/g
  let last = 0
  for (let m = re.exec(template); m !== null; m = re.exec(template)) {
    if (m.index > last) parts.push({ lit: template.slice(last, m.index) })
    parts.push({ ph: m[1]! })
    last = m.index + m[0].length
  }
  if (last < template.length) parts.push({ lit: template.slice(last) })
  return parts
}

/** Why a template is unusable, or undefined. Checked by the config schema. */
export function keyTemplateProblem(template: string): string | undefined {
  const parts = parse(template)
  const names = parts.flatMap((p) => ('ph' in p ? [p.ph] : []))
  const unknown = names.find((n) => !kKnown.has(n))
  if (unknown !== undefined) return `unknown placeholder {${unknown}}`
  if (/[{}]/.test(parts.flatMap((p) => ('lit' in p ? [p.lit] : [])).join(''))) return 'stray { or }'
  const first = parts.findIndex((p) => 'ph' in p && p.ph === 'firstLsn')
  const last = parts.findIndex((p) => 'ph' in p && p.ph === 'lastLsn')
  if (first < 0 || last < 0)
    return 'must contain {firstLsn} and {lastLsn} (the key is how retries find an object)'
  if (names.filter((n) => n === 'firstLsn' || n === 'lastLsn').length !== 2)
    return '{firstLsn} and {lastLsn} must appear once each'
  if (
    last !== first + 2 ||
    !('lit' in parts[first + 1]!) ||
    /\d/.test((parts[first + 1] as { lit: string }).lit)
  ) {
    return '{firstLsn} must be followed by a separator without digits and then {lastLsn}'
  }
  const tail = parts.slice(last + 1)
  if (tail.some((p) => 'ph' in p && p.ph !== 'ext')) return 'only {ext} may follow {lastLsn}'
  if (tail.some((p) => 'lit' in p && p.lit.includes('/'))) return 'no "/" may follow {lastLsn}'
  if (template.startsWith('/')) return 'must not start with "/"'
  return undefined
}

export interface LsnRange {
  first: number
  last: number
}

export interface CompiledKey {
  /** The group prefix of a record: everything before `{firstLsn}`. */
  groupOf(r: KeyRecord): string
  /** The full key of an object of `group` holding `first`…`last`. */
  keyOf(group: string, first: number, last: number): string
  /** The lsn range of a key listed under `group`, or undefined for a key that is not ours. */
  rangeOf(group: string, key: string): LsnRange | undefined
  /** The longest constant start of every key (where LIST and multipart sweeps look). */
  root: string
  /** Matches every key this source writes under this template (for the stale-upload sweep). */
  own: RegExp
}

const kMaxDateMinute = 8.64e15 / 60_000
const pad2 = (n: number) => String(n).padStart(2, '0')
const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
// Key segments come from producer-chosen names: keep them printable and path-safe.
const segment = (s: string) => (s === '' ? '_' : s.replace(/[\u0000-\u001f\u007f/\\]/g, '_'))
const lsnText = (n: number) => String(n).padStart(LSN_DIGITS, '0')

function tidy(key: string): string {
  // An empty {prefix} must not leave "//" or a leading "/" behind. (Checked first: this runs per record.)
  if (key[0] !== '/' && !key.includes('//')) return key
  return key.replace(/\/{2,}/g, '/').replace(/^\//, '')
}

export function compileKey(template: string, kc: KeyContext): CompiledKey {
  const problem = keyTemplateProblem(template)
  if (problem !== undefined) throw new MI_ERR_S3_KEY_TEMPLATE(template, problem)
  const parts = parse(template)
  const firstAt = parts.findIndex((p) => 'ph' in p && p.ph === 'firstLsn')
  const head = parts.slice(0, firstAt)
  const sep = (parts[firstAt + 1] as { lit: string }).lit
  const constant = (name: string) =>
    name === 'prefix' ? kc.prefix : name === 'source' ? kc.source : name === 'ext' ? kc.ext : undefined
  const tail = parts
    .slice(firstAt + 3)
    .map((p) => ('lit' in p ? p.lit : constant(p.ph)!))
    .join('')

  let cachedMinute = -1
  let cachedTime: Record<string, string> = {}
  const timeOf = (minute: number) => {
    if (minute !== cachedMinute) {
      const d = new Date(minute * 60_000)
      cachedMinute = minute
      cachedTime = {
        yyyy: String(d.getUTCFullYear()),
        mm: pad2(d.getUTCMonth() + 1),
        dd: pad2(d.getUTCDate()),
        hh: pad2(d.getUTCHours()),
        mi: pad2(d.getUTCMinutes()),
      }
    }
    return cachedTime
  }

  // groupOf runs per record (a catch-up: a million per GiB of 1 KiB records). Building, tidying and
  // hashing a fresh string for each cost ~0.45 CPU-s per million; the prefixes a window renders
  // are few, so each is kept, looked up by (minute, stream, module, core) without building a
  // string (fields the template does not use count as ''), ~0.05 CPU-s per million.
  const uses = (ph: string) => head.some((p) => 'ph' in p && p.ph === ph)
  const [byStream, byModule, byCore] = [uses('stream'), uses('module'), uses('core')]
  const byTime = head.some((p) => 'ph' in p && (kTimeFields as readonly string[]).includes(p.ph))
  type Memo = Map<number | string, Memo | string>
  let memo: Memo = new Map()
  let memoSize = 0
  const render = (r: KeyRecord, minute: number): string => {
    let out = ''
    for (const p of head) {
      if ('lit' in p) out += p.lit
      else if (p.ph === 'stream' || p.ph === 'module' || p.ph === 'core') out += segment(r[p.ph])
      else out += constant(p.ph) ?? timeOf(minute)[p.ph]
    }
    return tidy(out)
  }
  const groupOf = (r: KeyRecord): string => {
    // A ts past Date's range (a u64 from the producer) is clamped to its end, year 275760.
    const minute = byTime ? Math.min(Math.floor(Number(r[kc.timeField]) / 60_000_000), kMaxDateMinute) : 0
    const path = [minute, byStream ? r.stream : '', byModule ? r.module : '']
    let level = memo
    for (const k of path) {
      let next = level.get(k) as Memo | undefined
      if (next === undefined) {
        next = new Map()
        level.set(k, next)
      }
      level = next
    }
    const core = byCore ? r.core : ''
    let group = level.get(core) as string | undefined
    if (group === undefined) {
      group = render(r, minute)
      level.set(core, group)
      // Bounded: many modules over many minutes start it afresh.
      if (++memoSize > 4096) {
        memo = new Map()
        memoSize = 0
      }
    }
    return group
  }

  const suffix = new RegExp(`^(\\d+)${reEscape(sep)}(\\d+)${reEscape(tail)}$`)

  let root = ''
  for (const p of head) {
    if ('lit' in p) root += p.lit
    else if (constant(p.ph) !== undefined) root += constant(p.ph)
    else break
  }
  root = tidy(root)

  let ownSrc = ''
  for (const p of parts) {
    if ('lit' in p) ownSrc += reEscape(p.lit)
    else if (p.ph === 'firstLsn' || p.ph === 'lastLsn') ownSrc += '\\d+'
    else if (constant(p.ph) !== undefined) ownSrc += reEscape(constant(p.ph)!)
    else if ((kTimeFields as readonly string[]).includes(p.ph)) ownSrc += '\\d+'
    else ownSrc += '[^/]+'
  }
  const own = new RegExp(`^${tidy(ownSrc)}$`)

  return {
    groupOf,
    keyOf: (group, first, last) => `${group}${lsnText(first)}${sep}${lsnText(last)}${tail}`,
    rangeOf(group, key) {
      if (!key.startsWith(group)) return undefined
      const m = suffix.exec(key.slice(group.length))
      if (m === null) return undefined
      return { first: Number(m[1]), last: Number(m[2]) }
    },
    root,
    own,
  }
}
