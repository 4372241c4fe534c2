/**
 * Shared by the index end-to-end tests: a real `module-ingest serve` process with an `index`
 * subscriber, operator tokens, a MIP/1 producer and HTTP helpers.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { createOperator, createToken } from '@module-ingest/auth'
import { connect } from '@module-ingest/client'
import { openReader, type StoredRecord } from '@module-ingest/log'
import { freePort } from '@module-ingest/testing'

export const cli = new URL('../src/cli.ts', import.meta.url).pathname
export const T0 = Date.UTC(2026, 10, 22, 9, 0, 0) * 1000 // µs
export const kFields = ['temp', 'load']

export interface ServerProcess {
  port: number
  exited: Promise<unknown>
  kill(signal: NodeJS.Signals): void
}

/** `module-ingest serve --config <file>` (the metrics listener needs an object, which --set cannot give). */
export type Teardown = (fn: () => unknown) => void

export async function serve(
  teardown: Teardown,
  dataDir: string,
  config: Record<string, unknown>,
): Promise<ServerProcess> {
  const port = await freePort()
  const file = join(dataDir, 'mi.json')
  writeFileSync(file, JSON.stringify({ dataDir, listen: `127.0.0.1:${port}`, ...config }))
  const child: ChildProcess = spawn(process.execPath, [cli, 'serve', '--config', file], {
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
  return { port, exited, kill: (signal) => child.kill(signal) }
}

export interface Setup {
  dataDir: string
  indexPath: string
  server: ServerProcess
  api: string
  reader: string
  writerOnly: string
  narrow: string
  moduleToken: string
}

/** `extra`: more fields for the index subscriber entry (e.g. `concurrency`). */
export async function setup(
  teardown: Teardown,
  name: string,
  extra: Record<string, unknown> = {},
): Promise<Setup> {
  const dataDir = mkdtempSync(join(tmpdir(), `mi-index-${name}-`))
  teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const creds = join(dataDir, 'credentials.yaml')
  const moduleToken = (
    await createToken(creds, {
      module: 'kiln-*',
      scopes: ['write:telemetry.*', 'write:other.*'],
      kind: 'token',
    })
  ).secret
  const reader = (await createOperator(creds, { name: 'dash', scopes: ['read:telemetry.*'] })).token
  const writerOnly = (await createOperator(creds, { name: 'ops', scopes: ['write:*'] })).token
  const narrow = (await createOperator(creds, { name: 'narrow', scopes: ['read:telemetry.kiln'] })).token
  const indexPath = join(dataDir, 'index.sqlite')
  const metricsPort = await freePort()
  const subscribers = [
    {
      name: 'idx',
      use: 'index',
      options: { path: indexPath, fields: kFields, logDir: join(dataDir, 'log') },
      batch: { maxRecords: 200, maxWaitMs: 20 },
      ...extra,
    },
  ]
  const server = await serve(teardown, dataDir, {
    subscribers,
    telemetry: { metrics: { listen: `127.0.0.1:${metricsPort}` } },
  })
  return {
    dataDir,
    indexPath,
    server,
    api: `http://127.0.0.1:${metricsPort}`,
    reader,
    writerOnly,
    narrow,
    moduleToken,
  }
}

/** n records per module over `spanS` seconds of producer time, integer values (exact sums). */
/** `clients` collects the connections, so a test that kills the server can close them (they would reconnect forever). */
export async function ingest(
  s: Setup,
  modules: string[],
  n: number,
  spanS: number,
  clients: Array<{ close(): Promise<void> }> = [],
): Promise<void> {
  await Promise.all(
    modules.map(async (module, mi) => {
      const client = await connect({ port: s.server.port, module, auth: { token: s.moduleToken } })
      clients.push(client)
      const batch = []
      for (let i = 0; i < n; i++) {
        const ts = T0 + Math.floor((i * spanS * 1_000_000) / n) + mi * 7
        const stream = i % 5 === 0 ? 'other.noise' : i % 2 ? 'telemetry.kiln' : 'telemetry.dryer'
        const body = i % 11 === 0 ? 'not json' : JSON.stringify({ temp: (i * 37 + mi) % 200, load: i % 13 })
        batch.push({ stream, ts, body })
        if (batch.length === 250) await client.sendBatch(batch.splice(0))
      }
      if (batch.length) await client.sendBatch(batch)
      await client.close()
    }),
  )
}

export async function get(s: Setup, path: string, token = s.reader) {
  const res = await fetch(`${s.api}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  // biome-ignore lint/suspicious/noExplicitAny: API replies, checked field by field
  return { status: res.status, body: (await res.json()) as Record<string, any> }
}

export async function waitApplied(s: Setup, lsn: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const r = await get(s, '/index/v1/status').catch(() => undefined)
    if (r?.status === 200 && r.body.appliedLsn >= lsn) return
    await sleep(100)
  }
  throw new Error(`index did not reach lsn ${lsn}`)
}

export async function logRecords(dataDir: string): Promise<StoredRecord[]> {
  const reader = await openReader(join(dataDir, 'log'))
  const cursor = reader.cursor({ fromLsn: 1 })
  const out: StoredRecord[] = []
  for (
    let b = await cursor.read({ maxRecords: 5000 });
    b.length > 0;
    b = await cursor.read({ maxRecords: 5000 })
  )
    out.push(...b)
  await reader.close()
  return out
}

export function run(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 90_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    )
  })
}
