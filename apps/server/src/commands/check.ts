import { accessSync, constants, existsSync, statSync } from 'node:fs'
import { createServer, connect as netConnect } from 'node:net'
import { dirname } from 'node:path'
import { CredentialStore, loadTlsContext } from '@module-ingest/auth'
import type { ServerConfig } from '@module-ingest/config'
import { checkPlugin, resolveSubscriberConfigs } from '@module-ingest/subscriber-runtime'
import { Command } from 'commander'
import { type ConfigFlags, configFromFlags, configOptions, kExit } from '../common.ts'
import { builtinPlugins, instancesOf } from '../plugins.ts'

export interface CheckResult {
  check: string
  ok: boolean
  /** What was checked, or the problem. */
  detail: string
}

/** Can `host:port` be bound right now? Binds and closes at once. */
function portFree(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const s = createServer()
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(null)))
  })
}

/** A unix socket someone answers on: a server is running there. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = netConnect(path)
    c.once('connect', () => {
      c.destroy()
      resolve(true)
    })
    c.once('error', () => resolve(false))
  })
}

function writableDir(dir: string): string | null {
  // The server creates dataDir when missing: its nearest existing ancestor must be writable.
  let d = dir
  while (!existsSync(d)) {
    const up = dirname(d)
    if (up === d) break
    d = up
  }
  try {
    if (!statSync(d).isDirectory()) return `${d} is not a directory`
    accessSync(d, constants.W_OK)
    return null
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message
  }
}

/**
 * Everything `serve` would trip over, without starting it: each check runs even when an earlier one
 * failed, so one run lists every problem.
 */
export async function runChecks(
  config: ServerConfig,
  opts: { pluginPaths?: string[] } = {},
): Promise<CheckResult[]> {
  const out: CheckResult[] = []
  const add = (check: string, problem: string | null, ok: string) =>
    out.push({ check, ok: problem === null, detail: problem ?? ok })

  add('dataDir', writableDir(config.dataDir), config.dataDir)

  if (existsSync(config.credentialsFile)) {
    try {
      const store = await CredentialStore.load(config.credentialsFile)
      add(
        'credentials',
        null,
        `${config.credentialsFile}${store.warnings.length ? ` (${store.warnings.join('; ')})` : ''}`,
      )
    } catch (err) {
      add('credentials', (err as Error).message, '')
    }
  } else
    add(
      'credentials',
      null,
      `${config.credentialsFile} absent: the first serve creates a development credential`,
    )

  if (config.tls) {
    try {
      await loadTlsContext({
        certFile: config.tls.certFile,
        keyFile: config.tls.keyFile,
        ...(config.tls.caFile ? { caFile: config.tls.caFile } : {}),
      })
      add('tls', null, `${config.tls.certFile} + ${config.tls.keyFile}`)
    } catch (err) {
      add('tls', (err as Error).message, '')
    }
  }

  const enabled = config.subscribers.filter((s) => s.enabled !== false)
  try {
    resolveSubscriberConfigs(enabled as never)
    for (const s of enabled) {
      try {
        await checkPlugin(s.use, s.options, process.cwd(), builtinPlugins(), opts.pluginPaths)
        add(`subscriber ${s.name}`, null, `plugin "${s.use}" loads, options valid`)
      } catch (err) {
        add(`subscriber ${s.name}`, (err as Error).message, '')
      }
    }
  } catch (err) {
    add('subscribers', (err as Error).message, '')
  }

  const { host, port } = config.listen
  const mip = await portFree(host, port)
  add('listen', mip && `${host}:${port} cannot be bound: ${mip}`, `${host}:${port} free`)
  // The reads listener opens only with a kv or index subscriber (server.ts).
  const reads =
    config.telemetry.reads &&
    instancesOf(config.subscribers, 'kv').length + instancesOf(config.subscribers, 'index').length > 0
      ? config.telemetry.reads
      : null
  for (const [what, l] of [
    ['metrics', config.telemetry.metrics],
    ['reads', reads],
  ] as const) {
    if (!l) continue
    const m = await portFree(l.listen.host, l.listen.port)
    add(
      what,
      m && `${l.listen.host}:${l.listen.port} cannot be bound: ${m}`,
      `${l.listen.host}:${l.listen.port} free`,
    )
  }
  const admin = config.telemetry.adminSocket
  add(
    'admin socket',
    (await socketAnswers(admin)) ? `${admin} answers: a server already runs on this data directory` : null,
    admin,
  )
  return out
}

export function checkCommand(): Command {
  return configOptions(new Command('check'))
    .description('validate a configuration without starting: schema, files, credentials, TLS, plugins, ports')
    .option('-l, --listen <host:port>', 'MIP/1 listen address (as for serve)')
    .option('--set <key=value...>', 'any setting by dotted path (as for serve)')
    .option('--plugin-path <dir...>', 'plugin directories for npm plugin names (also $MI_PLUGIN_PATH)')
    .option('--json', 'print the results as one JSON object')
    .action(async (o: ConfigFlags & { pluginPath?: string[]; json?: boolean }) => {
      let results: CheckResult[]
      try {
        const config = configFromFlags(o)
        results = [
          { check: 'config', ok: true, detail: o.config ?? process.env.MI_CONFIG ?? '(embedded default)' },
        ]
        results.push(...(await runChecks(config, o.pluginPath ? { pluginPaths: o.pluginPath } : {})))
      } catch (err) {
        // A config that does not validate: every schema problem, one line each.
        const lines = (err as Error).message.split('\n')
        results = lines.map((l) => ({ check: 'config', ok: false, detail: l.replace(/^config error: /, '') }))
      }
      const failed = results.filter((r) => !r.ok)
      if (o.json) process.stdout.write(`${JSON.stringify({ ok: failed.length === 0, results })}\n`)
      else {
        const width = Math.max(...results.map((r) => r.check.length))
        for (const r of results)
          process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'}  ${r.check.padEnd(width)}  ${r.detail}\n`)
        process.stdout.write(failed.length ? `${failed.length} problem(s)\n` : 'configuration ok\n')
      }
      process.exitCode = failed.length ? kExit.failure : kExit.ok
    })
}
