/**
 * Subject mapping. A template such as `{prefix}.{stream}.{module}` is compiled once into parts;
 * each record's subject is then a join of literal parts and sanitised field values.
 *
 * - `{stream}` keeps its dots: a log stream `env.temp` becomes the two subject tokens `env.temp`,
 *   so consumers can filter on `mi.env.>`.
 * - `{module}`, `{core}` and `{source}` are always exactly one token: a dot in them becomes `_`.
 * - Any character outside `[A-Za-z0-9_-]` becomes `_` (NATS forbids whitespace, `.`, `*` and `>`
 *   inside a token, and many tools choke on the rest); an empty value or token becomes `_`.
 *   Sanitising can merge names (`a/b` and `a_b`): the `MI-*` headers always carry the originals.
 */

export const SUBJECT_FIELDS = ['prefix', 'stream', 'module', 'core', 'source'] as const
export type SubjectField = (typeof SUBJECT_FIELDS)[number]

export interface SubjectInput {
  stream: string
  module: string
  core: string
}

export type SubjectMapper = (record: SubjectInput) => string

const kUnsafe = /[^A-Za-z0-9_-]/g
const kPlaceholder = /\{([a-z]+)\}/g
// Bounded so a producer cycling through module names cannot grow the cache without limit.
const kCacheMax = 10_000

/** One subject token from any string. */
export function sanitizeToken(value: string): string {
  return value === '' ? '_' : value.replace(kUnsafe, '_')
}

/** One or more subject tokens, keeping `.` as the separator. */
export function sanitizeTokens(value: string): string {
  return value.split('.').map(sanitizeToken).join('.')
}

/** Why `subject` is not a valid publish subject, or null. */
export function subjectProblem(subject: string): string | null {
  if (subject === '') return 'is empty'
  if (/\s/.test(subject)) return 'contains whitespace'
  for (const token of subject.split('.')) {
    if (token === '') return 'has an empty token'
    if (token === '*' || token === '>' || token.includes('*') || token.includes('>')) {
      return 'contains a wildcard'
    }
  }
  return null
}

/** Why `template` cannot be compiled, or null. */
export function templateProblem(template: string): string | null {
  for (const [, name] of template.matchAll(kPlaceholder)) {
    if (!(SUBJECT_FIELDS as readonly string[]).includes(name!)) {
      return `unknown placeholder {${name}} (known: ${SUBJECT_FIELDS.map((f) => `{${f}}`).join(' ')})`
    }
  }
  const sample = template.replace(kPlaceholder, 'x')
  const problem = subjectProblem(sample)
  return problem === null ? null : `renders a subject that ${problem} (${sample})`
}

export function compileSubject(template: string, fixed: { prefix: string; source: string }): SubjectMapper {
  type Part = string | ((r: SubjectInput) => string)
  const parts: Part[] = []
  let last = 0
  for (const match of template.matchAll(kPlaceholder)) {
    if (match.index > last) parts.push(template.slice(last, match.index))
    last = match.index + match[0].length
    const name = match[1] as SubjectField
    if (name === 'prefix') parts.push(fixed.prefix)
    else if (name === 'source') parts.push(sanitizeToken(fixed.source))
    else if (name === 'stream') parts.push((r) => sanitizeTokens(r.stream))
    else if (name === 'module') parts.push((r) => sanitizeToken(r.module))
    else parts.push((r) => sanitizeToken(r.core))
  }
  if (last < template.length) parts.push(template.slice(last))

  const cache = new Map<string, string>()
  return (record) => {
    const key = `${record.stream}\0${record.module}\0${record.core}`
    let subject = cache.get(key)
    if (subject === undefined) {
      subject = ''
      for (const part of parts) subject += typeof part === 'string' ? part : part(record)
      if (cache.size >= kCacheMax) cache.clear()
      cache.set(key, subject)
    }
    return subject
  }
}
