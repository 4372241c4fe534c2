import { join, resolve } from 'node:path'
import type { z } from 'zod'
import { MI_ERR_CONFIG_INVALID } from './errors.ts'
import { configSchema, type ServerConfig, type SubscriberConfig } from './schema.ts'
import {
  envName,
  envSource,
  fileSource,
  flagSource,
  type Issue,
  type NormaliseContext,
  normalise,
  type Path,
  pathText,
  readConfigFile,
  type SourceValues,
} from './sources.ts'

export interface LoadConfigOptions {
  /** A .yaml/.yml/.json file. Default: $MI_CONFIG when set, else none. */
  file?: string
  /** Environment to read MI_* settings from; default process.env. Pass {} to ignore it. */
  env?: Record<string, string | undefined>
  /** Settings from the command line, keyed by dotted path: { listen: '0.0.0.0:7411', 'limits.maxConnections': 10 }. */
  flags?: Record<string, unknown>
  /** How each flag key was spelled on the command line, for error messages: { dataDir: '--data-dir' }. */
  flagLabels?: Record<string, string>
  /** Relative paths resolve against this; default process.cwd(). */
  cwd?: string
}

export interface ConfigIssue {
  /** Dotted path of the offending key ('' for the whole source). */
  path: string
  /** Where the value came from: the file name, the environment variable, the flag, or 'defaults'. */
  source: string
  message: string
}

/** An error listing every problem, one `config error: <path> (from <source>): <problem>` line each. */
export function configError(issues: ConfigIssue[]) {
  const lines = issues.map((i) => `config error: ${i.path || '(top level)'} (from ${i.source}): ${i.message}`)
  const err = new MI_ERR_CONFIG_INVALID(lines.join('\n'))
  return Object.assign(err, { issues })
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Later sources win key by key; arrays and scalars are replaced whole. */
function mergeSources(sources: SourceValues[]): SourceValues {
  const value: Record<string, unknown> = {}
  const labels = new Map<string, string>()
  const deep = (target: Record<string, unknown>, src: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(src)) {
      const cur = target[k]
      if (isPlainObject(v) && isPlainObject(cur)) deep(cur, v)
      else target[k] = isPlainObject(v) ? deep({}, v) : v
    }
    return target
  }
  for (const s of sources) {
    deep(value, s.value)
    for (const [p, label] of s.labels) {
      // A later source replacing a value also replaces whatever set the parts under it.
      for (const q of labels.keys()) if (q.startsWith(`${p}.`)) labels.delete(q)
      labels.set(p, label)
    }
  }
  return { value, labels }
}

function labelLookup(labels: Map<string, string>) {
  return (path: Path): string => {
    for (let n = path.length; n > 0; n--) {
      const label = labels.get(path.slice(0, n).join('.'))
      if (label) return label
    }
    return 'defaults'
  }
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v)
  if (v === undefined) return 'nothing'
  try {
    const s = JSON.stringify(v)
    return s.length > 60 ? `${s.slice(0, 57)}...` : s
  } catch {
    return String(v)
  }
}

function zodIssues(error: z.ZodError, labelOf: (p: Path) => string): ConfigIssue[] {
  return error.issues.map((iss) => {
    const path = iss.path as Path
    const input = (iss as { input?: unknown }).input
    let message = iss.message
    if (iss.code === 'unrecognized_keys') message = `unknown keys ${iss.keys.map((k) => `"${k}"`).join(', ')}`
    else if (input === undefined) message = `is required (${message})`
    else if (iss.code !== 'custom') message = `${message}, got ${show(input)}`
    return { path: pathText(path), source: labelOf(path), message }
  })
}

/**
 * Load the server configuration: defaults < file < environment (MI_*) < flags.
 * Throws MI_ERR_CONFIG_INVALID listing every problem, or MI_ERR_CONFIG_FILE_* for the file itself.
 */
export function loadConfig(options: LoadConfigOptions = {}): ServerConfig {
  const env = options.env ?? process.env
  const cwd = options.cwd ?? process.cwd()
  const file = options.file ?? env.MI_CONFIG
  const issues: Issue[] = []
  const sources: SourceValues[] = []

  const normaliseSource = (s: SourceValues, fromText: boolean, suggestionText: (p: Path) => string) => {
    const ctx: NormaliseContext = { fromText, labelOf: labelLookup(s.labels), suggestionText, issues }
    return { value: normalise(s.value, configSchema, [], ctx) as Record<string, unknown>, labels: s.labels }
  }
  const asKey = (p: Path) => `"${String(p.at(-1))}"`
  if (file) {
    sources.push(normaliseSource(fileSource(readConfigFile(resolve(cwd, file)), file, issues), false, asKey))
  }
  sources.push(normaliseSource(envSource(env, configSchema, issues), true, envName))
  sources.push(
    normaliseSource(flagSource(options.flags ?? {}, options.flagLabels), true, (p) => `"${pathText(p)}"`),
  )
  const merged = mergeSources(sources)
  const labelOf = labelLookup(merged.labels)
  const fail = (more: ConfigIssue[] = []) =>
    configError([
      ...issues.map((i) => ({ path: pathText(i.path), source: i.source, message: i.message })),
      ...more,
    ])
  // Unknown keys were dropped while normalising, so the schema still checks everything else:
  // one run reports every problem.
  const parsed = configSchema.safeParse(merged.value, { reportInput: true })
  if (!parsed.success) throw fail(zodIssues(parsed.error, labelOf))
  if (issues.length) throw fail()
  const cfg = parsed.data

  // Derived values and cross-field checks.
  const more: ConfigIssue[] = []
  const dataDir = resolve(cwd, cfg.dataDir)
  const abs = (p: string | undefined) => (p === undefined ? undefined : resolve(cwd, p))
  const subscribers: SubscriberConfig[] = (
    cfg.subscribers ?? [
      {
        name: 'disk',
        use: 'disk',
        enabled: true,
        streams: ['*'],
        options: {},
        concurrency: 1,
        maxAttempts: 5,
        timeoutMs: 30000,
        failedRecheckMs: 60000,
      },
    ]
  ).map((s) =>
    s.use === 'disk' && s.options.dir === undefined
      ? { ...s, options: { ...s.options, dir: join(dataDir, 'archive') } }
      : s,
  )
  const seen = new Set<string>()
  subscribers.forEach((s, i) => {
    if (seen.has(s.name)) {
      const path: Path = ['subscribers', i, 'name']
      more.push({
        path: pathText(path),
        source: labelOf(path),
        message: `duplicate subscriber name "${s.name}"`,
      })
    }
    seen.add(s.name)
  })
  for (const key of ['inboundBytes', 'toWriterBytes'] as const) {
    if (cfg.ring[key] <= cfg.limits.maxFrameBytes) {
      const path: Path = ['ring', key]
      more.push({
        path: pathText(path),
        source: labelOf(path),
        message: `must be larger than limits.maxFrameBytes (${cfg.limits.maxFrameBytes}) so a whole frame fits, got ${cfg.ring[key]}`,
      })
    }
  }
  if (more.length) throw fail(more)

  return {
    ...cfg,
    dataDir,
    tls: cfg.tls && {
      ...cfg.tls,
      certFile: resolve(cwd, cfg.tls.certFile),
      keyFile: resolve(cwd, cfg.tls.keyFile),
      ...(cfg.tls.caFile ? { caFile: resolve(cwd, cfg.tls.caFile) } : {}),
    },
    credentialsFile: resolve(cwd, cfg.credentialsFile ?? join(dataDir, 'credentials.yaml')),
    subscribers,
    telemetry: {
      ...cfg.telemetry,
      ...(cfg.telemetry.logFile ? { logFile: abs(cfg.telemetry.logFile) } : {}),
      adminSocket: resolve(cwd, cfg.telemetry.adminSocket ?? join(dataDir, 'admin.sock')),
    },
  }
}

/** The configuration with nothing set (paths resolved against `cwd`). */
export function defaultConfig(cwd?: string): ServerConfig {
  return loadConfig({ env: {}, ...(cwd ? { cwd } : {}) })
}
