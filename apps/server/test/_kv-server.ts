/**
 * Shared by the kv end-to-end tests: a real `module-ingest serve` process (config file, since the
 * subscribers list and the HTTP listener are objects) with a `kv` subscriber, credentials for a
 * writer module and for operators with different read scopes.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { createOperator, createToken } from '@module-ingest/auth'
import { freePort } from '@module-ingest/testing'

export const cli = new URL('../src/cli.ts', import.meta.url).pathname
export type Teardown = (fn: () => unknown) => void

export interface KvServer {
  port: number
  api: string
  exited: Promise<unknown>
  kill(signal: NodeJS.Signals): void
}

export interface KvSetup {
  dataDir: string
  storePath: string
  configFile: string
  /** Module `dev-1`'s secret: write:kv.site1, write:kv.shared.* (not kv.site2). */
  moduleToken: string
  /** read:kv.site1 */
  reader: string
  /** read:kv.site2 only */
  otherReader: string
  /** write:* but no read scope */
  writerOnly: string
}

export async function kvSetup(teardown: Teardown, name: string): Promise<KvSetup> {
  const dataDir = mkdtempSync(join(tmpdir(), `mi-kv-${name}-`))
  teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const creds = join(dataDir, 'credentials.yaml')
  const moduleToken = (
    await createToken(creds, {
      module: 'dev-*',
      scopes: ['write:kv.site1', 'write:kv.shared.*'],
      kind: 'token',
    })
  ).secret
  const reader = (
    await createOperator(creds, { name: 'dash', scopes: ['read:kv.site1', 'read:kv.shared.*'] })
  ).token
  const otherReader = (await createOperator(creds, { name: 'other', scopes: ['read:kv.site2'] })).token
  const writerOnly = (await createOperator(creds, { name: 'ops', scopes: ['write:*'] })).token
  return {
    dataDir,
    storePath: join(dataDir, 'kv.sqlite'),
    configFile: join(dataDir, 'mi.json'),
    moduleToken,
    reader,
    otherReader,
    writerOnly,
  }
}

/** Start (or restart, same data dir) the server; `batchWaitMs` delays the kv subscriber's deliveries. */
export async function kvServe(
  teardown: Teardown,
  s: KvSetup,
  o: { batchWaitMs?: number; port?: number } = {},
): Promise<KvServer> {
  const port = o.port ?? (await freePort())
  const metricsPort = await freePort()
  writeFileSync(
    s.configFile,
    JSON.stringify({
      dataDir: s.dataDir,
      listen: `127.0.0.1:${port}`,
      telemetry: { metrics: { listen: `127.0.0.1:${metricsPort}` } },
      subscribers: [
        {
          name: 'kv',
          use: 'kv',
          streams: ['kv.*'],
          options: { path: s.storePath, maxValueBytes: 4096, sweepIntervalMs: 100 },
          batch: { maxRecords: o.batchWaitMs ? 100_000 : 500, maxWaitMs: o.batchWaitMs ?? 10 },
        },
      ],
    }),
  )
  const child: ChildProcess = spawn(process.execPath, [cli, 'serve', '--config', s.configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise((resolve) => child.once('exit', resolve))
  teardown(() => {
    child.kill('SIGKILL')
    return exited.then(() => {})
  })
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('"ServerListening"')) resolve()
    })
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening:\n${stderr}`)))
  })
  return { port, api: `http://127.0.0.1:${metricsPort}`, exited, kill: (signal) => child.kill(signal) }
}

export async function httpGet(api: string, path: string, token?: string) {
  const res = await fetch(`${api}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  // biome-ignore lint/suspicious/noExplicitAny: API replies, checked field by field
  return { status: res.status, text: '', body: (await res.json()) as Record<string, any> }
}
