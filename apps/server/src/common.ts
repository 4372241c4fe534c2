import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig, type ServerConfig } from '@module-ingest/config'
import type { Command } from 'commander'

/** Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration, 130 interrupted twice. */
export const kExit = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const

export interface ConfigFlags {
  config?: string
  dataDir?: string
  listen?: string
  logLevel?: string
  set?: string[]
}

/** Options every command that reads the configuration accepts. */
export function configOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'config file (.yaml, .yml or .json); default $MI_CONFIG')
    .option('-d, --data-dir <dir>', 'data directory (overrides config dataDir)')
}

function parseSet(items: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const item of items) {
    const eq = item.indexOf('=')
    if (eq <= 0)
      throw Object.assign(new Error(`--set expects key=value, got "${item}"`), { code: 'MI_ERR_CLI_USAGE' })
    out[item.slice(0, eq)] = item.slice(eq + 1)
  }
  return out
}

/** Load the configuration with the precedence file < MI_* environment < flags. */
export function configFromFlags(flags: ConfigFlags): ServerConfig {
  const set = parseSet(flags.set)
  const labels: Record<string, string> = {
    dataDir: '--data-dir',
    listen: '--listen',
    'telemetry.logLevel': '--log-level',
  }
  for (const key of Object.keys(set)) labels[key] = `--set ${key}`
  return loadConfig({
    ...(flags.config ? { file: flags.config } : {}),
    flags: { ...set, dataDir: flags.dataDir, listen: flags.listen, 'telemetry.logLevel': flags.logLevel },
    flagLabels: labels,
  })
}

/** Where the server writes the development token on first start (mode 0600). */
export const devTokenPath = (config: ServerConfig) => join(config.dataDir, 'dev-token')

export function readDevToken(config: ServerConfig): string | undefined {
  try {
    return readFileSync(devTokenPath(config), 'utf8').trim() || undefined
  } catch {
    return undefined
  }
}

/** A host to connect to for a listen address: wildcard addresses mean this machine. */
export function connectHost(host: string): string {
  return host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host
}

/** "-5m", "-10s", "-2h", "-1d", "-500ms" → milliseconds (positive), or undefined. */
/**
 * Where the kv and index read APIs answer (the server's wiring, server.ts): their own listener
 * (`telemetry.reads.listen`), or the metrics listener with `telemetry.reads: false`. undefined:
 * neither is on.
 */
export function readApiBase(config: ServerConfig): string | undefined {
  const l = config.telemetry.reads
    ? config.telemetry.reads.listen
    : config.telemetry.metrics
      ? config.telemetry.metrics.listen
      : null
  return l ? `http://${connectHost(l.host)}:${l.port}` : undefined
}

export function parseRelative(text: string): number | undefined {
  const m = /^-(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim())
  if (!m) return undefined
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms']
  return Number(m[1]) * unit
}

export function usageError(message: string): Error {
  return Object.assign(new Error(message), { code: 'MI_ERR_CLI_USAGE' })
}
