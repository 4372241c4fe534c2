import type { ZodType } from 'zod'
import { arrayElement, inspect, objectShape, unionOptions } from './introspect.ts'
import { configSchema } from './schema.ts'
import { envName, kEnvAliases, type Path, pathText } from './sources.ts'

export interface ConfigEntry {
  /** Dotted path; `subscribers[].name` for fields of list items. */
  path: string
  type: string
  /** The default as text ('' when the setting is unset by default). */
  default: string
  description: string
  /** The environment variable that sets it ('' for fields inside lists). */
  env: string
  /** A section (object) rather than a value. */
  section: boolean
}

function typeText(kind: string): string {
  return (
    (
      { string: 'string', number: 'number', boolean: 'boolean', array: 'array', object: 'object' } as Record<
        string,
        string
      >
    )[kind] ?? kind
  )
}

function defaultText(v: unknown, kind: string): string {
  if (v === undefined) return ''
  if (
    kind === 'object' ||
    (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0)
  )
    return ''
  return `\`${JSON.stringify(v)}\``
}

function walk(schema: ZodType, path: Path, inList: boolean, out: ConfigEntry[]): void {
  const info = inspect(schema)
  let kind = info.kind
  let base = info.base
  if (kind === 'union') {
    base = unionOptions(base).find((o) => inspect(o).kind === 'object') ?? base
    kind = inspect(base).kind
  }
  const isSection = kind === 'object'
  if (path.length) {
    out.push({
      path: pathText(path).replace(/\[-1\]/g, '[]'),
      type: info.meta.type ?? typeText(kind),
      default: info.meta.defaultText ?? defaultText(info.defaultValue, kind),
      description: info.meta.description ?? '',
      env: inList ? '' : envName(path),
      section: isSection,
    })
  }
  if (isSection) {
    for (const [k, s] of Object.entries(objectShape(base))) walk(s, [...path, k], inList, out)
  } else if (kind === 'array') {
    const el = arrayElement(base)
    if (inspect(el).kind === 'object') {
      for (const [k, s] of Object.entries(objectShape(inspect(el).base))) walk(s, [...path, -1, k], true, out)
    }
  }
}

/** Every setting with its type, default, environment variable and description. */
export function describeConfig(): ConfigEntry[] {
  const out: ConfigEntry[] = []
  walk(configSchema, [], false, out)
  return out
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\\\\\|/g, '\\|')

/** docs/configuration.md, generated: `node tools/gen-config-doc.ts` (a test checks it is current). */
export function renderConfigMarkdown(): string {
  const entries = describeConfig()
  const aliases = Object.entries(kEnvAliases)
    .map(([name, path]) => `\`${name}\` for \`${path.join('.')}\``)
    .join(', ')
  const lines = [
    '# Configuration',
    '',
    '<!-- Generated from packages/config/src/schema.ts by `node tools/gen-config-doc.ts`. Do not edit. -->',
    '',
    'The server reads its settings from, in increasing precedence: built-in defaults, a config file',
    '(`--config FILE` or `$MI_CONFIG`; YAML for `.yaml`/`.yml`, JSON for `.json`), environment',
    'variables, and command-line flags. Later sources win key by key; lists are replaced whole.',
    '',
    '## Environment variables',
    '',
    '`MI_` + the key path in upper snake case, with `__` between levels:',
    '`limits.maxConnections` is `MI_LIMITS__MAX_CONNECTIONS`, `dataDir` is `MI_DATA_DIR`.',
    `Shorthands: ${aliases}.`,
    'Values are text: numbers and `true`/`false` are converted; lists take JSON or comma-separated',
    'values (`MI_SUBSCRIBERS=\'[{"name":"a","use":"disk"}]\'`); `MI_TELEMETRY__METRICS=false`',
    'disables the metrics server. Fields inside list items have no variable of their own: set the whole',
    'list. `MI_CONFIG` names the config file. Other `MI_` variables are ignored unless they look like a',
    'misspelt setting, which is an error.',
    '',
    '## Units',
    '',
    'Units are in the names. In any source, `...Bytes` settings also take `512KiB`, `64MiB`, `1GiB` (or',
    'kB/MB/GB), and `...Ms` settings take `250ms`, `10s`, `5m`, `1h`, `7d`.',
    '',
    '## Paths',
    '',
    'Relative paths resolve against the working directory of the process. Derived defaults follow',
    "`dataDir`: `credentialsFile`, `telemetry.adminSocket`, and the default disk subscriber's",
    '`options.dir` (`<dataDir>/archive`, also filled in for any `use: "disk"` subscriber without one).',
    '',
    '## Errors',
    '',
    'Every problem is reported, one line each, naming the key, where the value came from and what is',
    'wrong; unknown keys are errors, with a suggestion when one is close:',
    '',
    '```',
    'config error: limits.maxConnections (from MI_LIMITS__MAX_CONNECTIONS): expected a positive integer, got "abc"',
    'config error: log.segmentSize (from config.yaml): unknown key, did you mean "segmentSizeBytes"?',
    '```',
    '',
    '## Settings',
    '',
    '| Key | Type | Default | Environment | Description |',
    '|---|---|---|---|---|',
  ]
  for (const e of entries) {
    const key = e.section ? `**\`${e.path}\`**` : `\`${e.path}\``
    lines.push(
      `| ${key} | ${cell(e.type)} | ${cell(e.default)} | ${e.env && !e.section ? `\`${e.env}\`` : ''} | ${cell(e.description)} |`,
    )
  }
  lines.push('')
  return lines.join('\n')
}
