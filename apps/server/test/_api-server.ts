/**
 * The fixture of the kv and index end-to-end tests: a real `module-ingest serve` (packages/testing
 * `startServerProcess`, with a config file since the subscribers list is objects) with its HTTP
 * listener, credentials for a writer module and for operators with different read scopes, and JSON
 * GETs. The kv and index parts differ only in their subscriber entry and tokens.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createOperator, createToken } from '@module-ingest/auth'
import { connect } from '@module-ingest/client'
import { openReader, type StoredRecord } from '@module-ingest/log'
import { freePort, startServerProcess } from '@module-ingest/testing'

export type Teardown = (fn: () => unknown) => void

export interface ApiServer {
  /** MIP/1 */
  port: number
  /** The read APIs' listener (telemetry.reads): `http://127.0.0.1:<port>` */
  api: string
  /** The metrics listener: `http://127.0.0.1:<port>` */
  metrics: string
  pid: number
  /** The JSON log lines so far. */
  logs(): Array<Record<string, unknown>>
  exited: Promise<unknown>
  kill(signal: NodeJS.Signals): void
}

/**
 * Start (or restart on the same data dir: pass the old `port`/`apiPort`) a server with these
 * config keys; it is SIGKILLed at teardown. The read APIs answer on their own listener
 * (`telemetry.reads`, served by the reads thread): `api`; `/metrics` is on `metrics`.
 */
export async function serveApi(
  teardown: Teardown,
  dataDir: string,
  config: Record<string, unknown>,
  o: { port?: number; apiPort?: number } = {},
): Promise<ApiServer> {
  const metricsPort = await freePort()
  const apiPort = o.apiPort ?? (await freePort())
  const server = await startServerProcess({
    dataDir,
    ...(o.port !== undefined ? { port: o.port } : {}),
    config: {
      ...config,
      telemetry: {
        metrics: { listen: `127.0.0.1:${metricsPort}` },
        reads: { listen: `127.0.0.1:${apiPort}` },
      },
    },
  })
  teardown(() => {
    server.kill('SIGKILL')
    return server.exited.then(() => {})
  })
  return {
    port: server.port,
    api: `http://127.0.0.1:${apiPort}`,
    metrics: `http://127.0.0.1:${metricsPort}`,
    pid: server.pid,
    logs: () => server.logs,
    exited: server.exited,
    kill: (signal) => server.kill(signal),
  }
}

export async function getJson(api: string, path: string, token?: string) {
  const res = await fetch(`${api}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  // biome-ignore lint/suspicious/noExplicitAny: API replies, checked field by field
  return { status: res.status, body: (await res.json()) as Record<string, any> }
}

/** A temp data dir (removed at teardown) and the credentials file in it. */
function dataDirWithCredentials(teardown: Teardown, prefix: string) {
  const dataDir = mkdtempSync(join(tmpdir(), prefix))
  teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  return { dataDir, creds: join(dataDir, 'credentials.yaml') }
}
const moduleSecret = async (creds: string, module: string, scopes: string[]) =>
  (await createToken(creds, { module, scopes, kind: 'token' })).secret
const operator = async (creds: string, name: string, scopes: string[]) =>
  (await createOperator(creds, { name, scopes })).token

// ── kv ──────────────────────────────────────────────────────────────────────────────────────────

export interface KvSetup {
  dataDir: string
  storePath: string
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
  const { dataDir, creds } = dataDirWithCredentials(teardown, `mi-kv-${name}-`)
  return {
    dataDir,
    storePath: join(dataDir, 'kv.sqlite'),
    moduleToken: await moduleSecret(creds, 'dev-*', ['write:kv.site1', 'write:kv.shared.*']),
    reader: await operator(creds, 'dash', ['read:kv.site1', 'read:kv.shared.*']),
    otherReader: await operator(creds, 'other', ['read:kv.site2']),
    writerOnly: await operator(creds, 'ops', ['write:*']),
  }
}

/** Start (or restart, same data dir) the server; `batchWaitMs` delays the kv subscriber's deliveries. */
export function kvServe(
  teardown: Teardown,
  s: KvSetup,
  o: { batchWaitMs?: number; port?: number; apiPort?: number } = {},
): Promise<ApiServer> {
  const subscriber = {
    name: 'kv',
    use: 'kv',
    streams: ['kv.*'],
    options: { path: s.storePath, maxValueBytes: 4096, sweepIntervalMs: 100 },
    batch: { maxRecords: o.batchWaitMs ? 100_000 : 500, maxWaitMs: o.batchWaitMs ?? 10 },
  }
  return serveApi(teardown, s.dataDir, { subscribers: [subscriber] }, o)
}

// ── index ───────────────────────────────────────────────────────────────────────────────────────

export const T0 = Date.UTC(2026, 10, 22, 9, 0, 0) * 1000 // µs
export const kFields = ['temp', 'load']

export interface Setup {
  dataDir: string
  indexPath: string
  server: ApiServer
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
  const { dataDir, creds } = dataDirWithCredentials(teardown, `mi-index-${name}-`)
  const moduleToken = await moduleSecret(creds, 'kiln-*', ['write:telemetry.*', 'write:other.*'])
  const reader = await operator(creds, 'dash', ['read:telemetry.*'])
  const writerOnly = await operator(creds, 'ops', ['write:*'])
  const narrow = await operator(creds, 'narrow', ['read:telemetry.kiln'])
  const indexPath = join(dataDir, 'index.sqlite')
  const subscriber = {
    name: 'idx',
    use: 'index',
    options: { path: indexPath, fields: kFields, logDir: join(dataDir, 'log') },
    batch: { maxRecords: 200, maxWaitMs: 20 },
    ...extra,
  }
  const server = await serveApi(teardown, dataDir, { subscribers: [subscriber] })
  return { dataDir, indexPath, server, api: server.api, reader, writerOnly, narrow, moduleToken }
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

export function get(s: Setup, path: string, token = s.reader) {
  return getJson(s.api, path, token)
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
