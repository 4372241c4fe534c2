/**
 * The real `module-ingest serve` as a child process, for tests that kill it (SIGKILL), signal it
 * (SIGTERM) or restart it on the same data directory.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { freePort } from './ports.ts'

const CLI = fileURLToPath(new URL('../../../apps/server/src/cli.ts', import.meta.url))

export interface ServerProcessOptions {
  dataDir: string
  /** Fixed port so clients can reconnect to a restarted server; default: a free one. */
  port?: number
  /** Extra `--set key=value` settings. */
  set?: Record<string, string | number | boolean>
  /**
   * A config file's content (written to `<dataDir>/mi.json`, passed as `--config`): for what
   * `--set` cannot say, such as the `subscribers` list. Flags still set listen and dataDir.
   */
  config?: Record<string, unknown>
  /** Extra environment (MI_*). */
  env?: Record<string, string>
  /** How long the server may take to listen before it is killed. Default 30000. */
  startTimeoutMs?: number
}

export interface ServerProcess {
  readonly port: number
  readonly pid: number
  readonly child: ChildProcess
  /** The development token the server created on its first start in this data dir. */
  devToken(): Promise<string>
  /** Every JSON log line seen on stdout so far. */
  readonly logs: Array<Record<string, unknown>>
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>
  kill(signal?: NodeJS.Signals): void
}

export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const port = options.port ?? (await freePort())
  const args = [CLI, 'serve', '--listen', `127.0.0.1:${port}`, '--data-dir', options.dataDir]
  if (options.config) {
    const file = join(options.dataDir, 'mi.json')
    await writeFile(file, JSON.stringify({ dataDir: options.dataDir, ...options.config }))
    args.push('--config', file)
  }
  // No HTTP listener unless the test configures one (e.g. telemetry.metrics.listen): a default
  // port would collide between tests running side by side.
  const set = options.set ?? {}
  const off = (key: 'metrics' | 'reads') =>
    Object.keys(set).some((k) => k.startsWith(`telemetry.${key}`)) ||
    (options.config?.telemetry as Record<string, unknown> | undefined)?.[key] !== undefined
      ? {}
      : { [`telemetry.${key}`]: false }
  for (const [k, v] of Object.entries({ ...off('metrics'), ...off('reads'), ...set }))
    args.push('--set', `${k}=${v}`)
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: Array<Record<string, unknown>> = []
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1))
  })
  const listening = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>
        logs.push(entry)
        if (entry.event === 'ServerListening') resolve()
      } catch {
        // not a log line
      }
    })
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening:\n${stderr}`)))
  })
  // Generous by default: CI machines can be loaded.
  const timer = setTimeout(() => child.kill('SIGKILL'), options.startTimeoutMs ?? 120_000)
  try {
    await listening
  } finally {
    clearTimeout(timer)
  }
  return {
    port,
    pid: child.pid!,
    child,
    logs,
    exited,
    devToken: async () => (await readFile(join(options.dataDir, 'dev-token'), 'utf8')).trim(),
    kill: (signal = 'SIGTERM') => child.kill(signal),
  }
}
