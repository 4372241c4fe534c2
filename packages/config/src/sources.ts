import { readFileSync } from 'node:fs'
import { extname } from 'node:path'
import YAML from 'yaml'
import type { ZodType } from 'zod'
import { MI_ERR_CONFIG_FILE_PARSE, MI_ERR_CONFIG_FILE_READ, MI_ERR_CONFIG_FILE_TYPE } from './errors.ts'
import { arrayElement, inspect, objectShape, unionOptions } from './introspect.ts'
import { closest } from './suggest.ts'

export type Path = Array<string | number>
export interface Issue {
  path: Path
  source: string
  message: string
}

export const pathText = (path: Path) =>
  path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p), '')

/** One source's values, with the label of the source that set each leaf. */
export interface SourceValues {
  value: Record<string, unknown>
  /** dotted path → label, for every leaf (scalar or array) the source set */
  labels: Map<string, string>
}

export function readConfigFile(file: string): unknown {
  const ext = extname(file).toLowerCase()
  if (ext !== '.yaml' && ext !== '.yml' && ext !== '.json') throw new MI_ERR_CONFIG_FILE_TYPE(file)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    throw new MI_ERR_CONFIG_FILE_READ(file, e.code === 'ENOENT' ? 'no such file' : e.message, { cause: err })
  }
  try {
    if (ext === '.json') return JSON.parse(text)
    const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true })
    if (doc.errors.length) throw doc.errors[0]
    return doc.toJS() ?? {}
  } catch (err) {
    throw new MI_ERR_CONFIG_FILE_PARSE(file, parseProblem(err as Error), { cause: err })
  }
}

/**
 * One line that ends with the problem itself. yaml's pretty message is "<problem> at line L,
 * column C:" followed by a source excerpt on the next lines; keeping only the first line left the
 * message ending in "column C:". Put the position first instead.
 */
export function parseProblem(err: Error): string {
  const first = err.message.split('\n')[0]!.trim()
  const m = /^(.*?)\s+at line (\d+), column (\d+):?$/.exec(first)
  return m ? `line ${m[2]}, column ${m[3]}: ${m[1]}` : first.replace(/:$/, '')
}

// --- environment ------------------------------------------------------------------------------

/** `maxConnections` → `MAX_CONNECTIONS` */
export const toEnvSegment = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()
/** `MAX_CONNECTIONS` → `maxConnections` */
export const fromEnvSegment = (seg: string) =>
  seg.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())

export const kEnvPrefix = 'MI_'
export const envName = (path: Path) => kEnvPrefix + path.map((p) => toEnvSegment(String(p))).join('__')

/** Short names for the settings people reach for most. */
export const kEnvAliases: Record<string, string[]> = {
  MI_LOG_LEVEL: ['telemetry', 'logLevel'],
  MI_LOG_FILE: ['telemetry', 'logFile'],
}

/** MI_ variables that belong to the test and bench tooling, not to the server config. */
export const kEnvIgnored = new Set([
  'MI_CONFIG',
  'MI_TEST',
  'MI_SOAK',
  'MI_BENCH',
  'MI_DEBUG',
  'MI_PLUGIN_PATH',
])

/** Every environment variable name the schema accepts (for did-you-mean on unknown ones). */
export function knownEnvNames(schema: ZodType, path: Path = []): string[] {
  const info = inspect(schema)
  if (info.kind === 'object') {
    return Object.entries(objectShape(info.base)).flatMap(([k, s]) => knownEnvNames(s, [...path, k]))
  }
  if (info.kind === 'union') {
    const obj = unionOptions(info.base).find((o) => inspect(o).kind === 'object')
    return [envName(path), ...(obj ? knownEnvNames(obj, path) : [])]
  }
  return [envName(path)]
}

export function envSource(
  env: Record<string, string | undefined>,
  schema: ZodType,
  issues: Issue[],
): SourceValues {
  const value: Record<string, unknown> = {}
  const labels = new Map<string, string>()
  const topKeys = new Set(Object.keys(objectShape(schema)))
  let known: string[] | undefined
  for (const [name, v] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (!name.startsWith(kEnvPrefix) || v === undefined || kEnvIgnored.has(name)) continue
    const path = kEnvAliases[name] ?? name.slice(kEnvPrefix.length).split('__').map(fromEnvSegment)
    if (!topKeys.has(path[0] as string)) {
      // Other tools may use MI_ too: only a near miss of a real setting is an error.
      known ??= [...knownEnvNames(schema), ...Object.keys(kEnvAliases)]
      const hint = closest(name, known)
      if (hint) issues.push({ path, source: name, message: `unknown setting, did you mean ${hint}?` })
      continue
    }
    if (path.some((p) => p === '')) {
      issues.push({ path: [], source: name, message: 'malformed name (empty segment between "__")' })
      continue
    }
    setPath(value, path, v)
    labels.set(path.join('.'), name)
  }
  return { value, labels }
}

function setPath(target: Record<string, unknown>, path: Path, v: unknown): void {
  let o = target
  for (const p of path.slice(0, -1)) {
    const next = o[p as string]
    if (typeof next !== 'object' || next === null || Array.isArray(next)) o[p as string] = {}
    o = o[p as string] as Record<string, unknown>
  }
  o[path.at(-1) as string] = v
}

/** Flags are keyed by dotted config path: { 'limits.maxConnections': '100', listen: '0.0.0.0:7411' }. */
export function flagSource(
  flags: Record<string, unknown>,
  flagLabels: Record<string, string> = {},
): SourceValues {
  const value: Record<string, unknown> = {}
  const labels = new Map<string, string>()
  for (const [key, v] of Object.entries(flags)) {
    if (v === undefined) continue
    const path = key.split('.')
    setPath(value, path, v)
    labels.set(key, flagLabels[key] ?? `--${key}`)
  }
  return { value, labels }
}

export function fileSource(raw: unknown, label: string, issues: Issue[]): SourceValues {
  const labels = new Map<string, string>()
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    issues.push({ path: [], source: label, message: 'expected a mapping of settings at the top level' })
    return { value: {}, labels }
  }
  const visit = (v: unknown, path: Path) => {
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && path.length > 0) {
      for (const [k, x] of Object.entries(v)) visit(x, [...path, k])
    } else if (path.length === 0) {
      for (const [k, x] of Object.entries(v as object)) visit(x, [k])
    } else labels.set(path.join('.'), label)
  }
  visit(raw, [])
  return { value: raw as Record<string, unknown>, labels }
}

// --- normalising against the schema -----------------------------------------------------------

const kSizeUnits: Record<string, number> = {
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
}
const kTimeUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * Numbers may be written with a unit where the key names one: `64MiB` for `...Bytes`, `10s` for
 * `...Ms`. From the environment and flags, plain digits are numbers too.
 */
function coerceNumber(key: string, v: string, fromText: boolean): unknown {
  const t = v.trim().replace(/_/g, '')
  if (fromText && /^-?\d+(\.\d+)?(e\d+)?$/i.test(t)) return Number(t)
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/i.exec(t)
  if (!m) return v
  const unit = (m[2] as string).toLowerCase()
  const scale = key.endsWith('Bytes') ? kSizeUnits[unit] : key.endsWith('Ms') ? kTimeUnits[unit] : undefined
  return scale === undefined ? v : Math.round(Number(m[1]) * scale)
}

export interface NormaliseContext {
  /** Values are text (environment, flags): coerce numbers, booleans, JSON and lists. */
  fromText: boolean
  labelOf(path: Path): string
  /** How to name a suggested key to the user, e.g. as an environment variable. */
  suggestionText(path: Path): string
  issues: Issue[]
}

/** Check keys against the schema (unknown keys with did-you-mean) and coerce text values. */
export function normalise(value: unknown, schema: ZodType, path: Path, ctx: NormaliseContext): unknown {
  const info = inspect(schema)
  const key = String(path.at(-1) ?? '')
  const text = typeof value === 'string'
  switch (info.kind) {
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return value
      const shape = objectShape(info.base)
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(value)) {
        const p = [...path, k]
        const sub = Object.hasOwn(shape, k) ? shape[k] : undefined
        if (!sub) {
          const hint = closest(k, Object.keys(shape))
          ctx.issues.push({
            path: p,
            source: ctx.labelOf(p),
            message: `unknown key${hint ? `, did you mean ${ctx.suggestionText([...path, hint])}?` : ''}`,
          })
          continue
        }
        out[k] = normalise(v, sub, p, ctx)
      }
      return out
    }
    case 'array': {
      if (text && ctx.fromText) {
        const s = (value as string).trim()
        if (s.startsWith('['))
          return normalise(parseJson(s, path, ctx), schema, path, { ...ctx, fromText: false })
        return s === '' ? [] : s.split(',').map((x) => x.trim())
      }
      if (!Array.isArray(value)) return value
      const el = arrayElement(info.base)
      return value.map((v, i) => normalise(v, el, [...path, i], ctx))
    }
    case 'record':
      if (text && ctx.fromText && (value as string).trim().startsWith('{'))
        return parseJson(value as string, path, ctx)
      return value
    case 'number':
      return text ? coerceNumber(key, value as string, ctx.fromText) : value
    case 'boolean':
      if (text && ctx.fromText) {
        const s = (value as string).trim().toLowerCase()
        if (['true', '1', 'yes', 'on'].includes(s)) return true
        if (['false', '0', 'no', 'off'].includes(s)) return false
      }
      return value
    case 'union': {
      if (
        text &&
        ctx.fromText &&
        ['false', 'off', 'no', '0'].includes((value as string).trim().toLowerCase())
      )
        return false
      const obj = unionOptions(info.base).find((o) => inspect(o).kind === 'object')
      if (obj && typeof value === 'object' && value !== null) return normalise(value, obj, path, ctx)
      return value
    }
    default:
      return value
  }
}

function parseJson(s: string, path: Path, ctx: NormaliseContext): unknown {
  try {
    return JSON.parse(s)
  } catch (err) {
    ctx.issues.push({ path, source: ctx.labelOf(path), message: `invalid JSON: ${(err as Error).message}` })
    return undefined
  }
}
