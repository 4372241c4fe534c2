import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createOperator, createToken } from '@module-ingest/auth'
import { adminRequest, type MetricsSummary } from '@module-ingest/telemetry'
import { freePort, reniceThreads, type Spawned, spawnUntil } from '../procs.ts'

/**
 * Our server as a separate process: the real `module-ingest serve` command (apps/server) with a
 * config file written here, a data dir under the run's scratch dir and a token credential for any
 * module (`*`, write:*). The port comes from the JSON log line `event: ServerListening`.
 * The process runs in its data dir, so relative paths in subscriber options (an index or kv store
 * file) land there and go away with it.
 */

/** One `subscribers[]` entry of the server config, written as is (see packages/config). */
export interface SubscriberEntry {
  name: string
  use: string
  streams?: string[]
  options?: Record<string, unknown>
  batch?: { maxRecords?: number; maxBytes?: number; maxWaitMs?: number }
  concurrency?: number
  maxAttempts?: number
  timeoutMs?: number
  /** subscribers[].nice (default: the plugin's). */
  nice?: number
  /** subscribers[].rateLimit (default: the plugin's). */
  rateLimit?: { bytesPerSec?: number; burstBytes?: number; when?: 'ingesting' | 'always' }
}

export type FlushPolicy = 'always' | 'interval'

export interface OursOptions {
  /** Data dir; created if missing, reused as is (the recovery scenario restarts on it). */
  dataDir: string
  flush: FlushPolicy
  maxConnections?: number
  /** Subscribers to run, built-in or not (default none: ingest alone). */
  subscribers?: SubscriberEntry[]
  /**
   * Open the HTTP listener (metrics, and the index and kv read APIs) on a free loopback port, with
   * an operator token that may read every stream (`read:*`). Default off.
   */
  http?: boolean
  /** Repository root whose apps/server runs (default: this checkout); see --base. */
  root?: string
  /** Seconds to wait for `ServerListening`. */
  startTimeoutMs?: number
  /** Extra `limits.*` settings (the attack scenario's memory budget). */
  limits?: Record<string, number>
  /** Where the server's stdout and stderr go, every line (default `<dataDir>.log`, beside the data dir). */
  logFile?: string
}

/** MI_BENCH_READS_NICE=<n>: telemetry.reads.nice for the run (default: the server's). */
function readsNice(): { nice?: number } {
  const v = process.env.MI_BENCH_READS_NICE
  return v === undefined || v === '' ? {} : { nice: Number(v) }
}

/**
 * MI_BENCH_NODE_FLAGS='--trace-gc --cpu-prof': extra node flags for the server process, for
 * flags NODE_OPTIONS refuses (V8's tracing and profiling ones). Split on spaces. With --cpu-prof
 * the server is stopped with SIGTERM (SIGKILL after 10 s), since a killed one writes no profile.
 */
function nodeFlags(): string[] {
  return (process.env.MI_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean)
}

export interface OursServer {
  readonly port: number
  readonly pid: number
  readonly dataDir: string
  readonly token: string
  /** With `http`: the listener's port and an operator bearer token for its read APIs. */
  readonly httpPort: number | null
  /** With `http`: the read APIs' own listener (telemetry.reads), null with MI_BENCH_READS=main. */
  readonly readsPort: number | null
  /** With `http`: where the kv and index read APIs answer (readsPort, else httpPort). */
  readonly readApi: number | null
  readonly operatorToken: string | null
  /** Spawn → `ServerListening`, ms. */
  readonly startMs: number
  /**
   * The admin socket's `stats` answer; with `window`, also `interval`: what each histogram
   * recorded since this window's previous read (see packages/telemetry window.ts).
   */
  stats(window?: string): Promise<OursStats>
  kill(): Promise<void>
  tail(): string
  /** How the server ended if it ended on its own (`exit code 1`, `signal SIGKILL`), else null. */
  died(): string | null
  /** Resolves with died()'s answer when the server ends on its own (never after kill()). */
  readonly whenDied: Promise<string>
  /** Its whole stdout and stderr (see OursOptions.logFile). */
  readonly logFile: string
}

export interface OursStats {
  metrics: MetricsSummary
  interval?: {
    seconds: number
    histograms: Array<{ name: string; count: number; p50: number; p99: number; max: number }>
  }
  subscribers: SubscriberStats[] | null
  [key: string]: unknown
}

/** The fields of the runtime's per-subscriber stats the scenarios read. */
export interface SubscriberStats {
  name: string
  state?: string
  lagRecords: number
  /** Contiguous done point: every lsn below it is finished. */
  ackedLsn?: number
  delivered: number
  deliveredBytes?: number
  /** Batches handed to the plugin (delivered / deliveredBatches = the mean delivery). */
  deliveredBatches?: number
  deadLettered?: number
  /** Time the entry's rateLimit held batches back, ms in total. */
  rateLimitedMs?: number
  lastError?: { code: string; message: string; atMs: number } | null
}

const kCli = fileURLToPath(new URL('../../../apps/server/src/cli.ts', import.meta.url))

export async function startOurs(o: OursOptions): Promise<OursServer> {
  const dataDir = o.dataDir
  await mkdir(dataDir, { recursive: true })
  const credentialsFile = join(dataDir, 'credentials.yaml')
  const tokenFile = join(dataDir, 'bench-token')
  let token: string
  if (existsSync(tokenFile)) token = (await readFile(tokenFile, 'utf8')).trim()
  else {
    ;({ secret: token } = await createToken(credentialsFile, {
      module: '*',
      kind: 'token',
      scopes: ['write:*'],
      comment: 'benchmarks',
    }))
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 })
  }
  let operatorToken: string | null = null
  let httpPort: number | null = null
  let readsPort: number | null = null
  if (o.http) {
    ;({ token: operatorToken } = await createOperator(credentialsFile, { name: 'bench', scopes: ['read:*'] }))
    httpPort = await freePort()
    // MI_BENCH_READS=main: the read APIs on the metrics listener, in the main thread
    // (`telemetry.reads: false`), for an A/B against their own thread (the default).
    // A --base checkout may predate the setting: it gets none (its defaults).
    if (process.env.MI_BENCH_READS !== 'main' && !o.root) readsPort = await freePort()
  }
  const maxConnections = o.maxConnections ?? 20_000
  // A Unix socket path holds at most 107 bytes on Linux: in a long scratch path (a worktree with a
  // longer name, a 5-digit pid) the server could not bind it and exited 1 before it was ready.
  const inDataDir = join(dataDir, 'admin.sock')
  const adminSocket =
    Buffer.byteLength(inDataDir) <= 100
      ? inDataDir
      : join(tmpdir(), `mi-bench-${process.pid}-${basename(dataDir)}.sock`)
  const config = {
    listen: '127.0.0.1:0',
    dataDir,
    credentialsFile,
    subscribers: o.subscribers ?? [],
    log: { flush: o.flush },
    limits: {
      maxConnections,
      // The bench spreads connections over a few loopback addresses; the per-address cap is a
      // production guard, not what is measured here.
      maxConnectionsPerIp: maxConnections,
      // Quiet connections of the 10k scenario must not hit IDLE_TIMEOUT while others connect.
      heartbeatMs: 120_000,
      handshakeTimeoutMs: 60_000,
      ...o.limits,
    },
    telemetry: {
      metrics: httpPort === null ? false : { listen: `127.0.0.1:${httpPort}` },
      ...(o.http && !o.root
        ? { reads: readsPort === null ? false : { listen: `127.0.0.1:${readsPort}`, ...readsNice() } }
        : {}),
      adminSocket,
      logLevel: 'info',
    },
  }
  const configFile = join(dataDir, 'bench-config.json')
  await writeFile(configFile, JSON.stringify(config, null, 2))
  const t0 = performance.now()
  const cli = o.root ? join(o.root, 'apps/server/src/cli.ts') : kCli
  const { proc, value: port } = await spawnUntil(
    process.execPath,
    [...nodeFlags(), cli, 'serve', '--config', configFile],
    (line) => {
      if (!line.includes('ServerListening')) return undefined
      const j = JSON.parse(line) as { event?: string; port?: number }
      return j.event === 'ServerListening' ? j.port : undefined
    },
    { timeoutMs: o.startTimeoutMs ?? 120_000, cwd: dataDir, logFile: o.logFile ?? `${dataDir}.log` },
  )
  const startMs = performance.now() - t0
  // Said when it happens, not only at the row's end: what the clients see next (ECONNRESET,
  // ECONNREFUSED on the admin socket) is then explained in the run's log as it unfolds.
  const whenDied = new Promise<string>((resolve) =>
    proc.child.once('exit', () => {
      const died = proc.died()
      if (died === null) return
      process.stderr.write(`  server pid ${proc.pid} (${dataDir}) died: ${died}; log ${proc.logFile}\n`)
      resolve(died)
    }),
  )
  const stats = async (window?: string) =>
    (await adminRequest(adminSocket, 'stats', window ? { window } : {}, { timeoutMs: 10_000 })) as OursStats
  // The engine opens the admin socket just after the listener: wait for it, so every caller can
  // ask for stats. The start time above stops at `ServerListening`, as a client sees it.
  for (let deadline = performance.now() + 30_000; ; ) {
    try {
      await stats()
      break
    } catch (err) {
      if (performance.now() > deadline) {
        await proc.kill()
        throw err
      }
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  // MI_BENCH_SERVER_THREAD_NICE='V8Worker=10': an A/B of the server's threads' priorities by name.
  const threadNice = process.env.MI_BENCH_SERVER_THREAD_NICE
  if (threadNice) reniceThreads(proc.pid, threadNice)
  return {
    port,
    pid: proc.pid,
    dataDir,
    token,
    httpPort,
    readsPort,
    readApi: readsPort ?? httpPort,
    operatorToken,
    startMs,
    stats,
    async kill() {
      await proc.kill(nodeFlags().some((f) => f.startsWith('--cpu-prof')) ? 10_000 : 0)
      if (adminSocket !== inDataDir) await rm(adminSocket, { force: true })
    },
    tail: () => proc.tail(),
    died: () => proc.died(),
    whenDied,
    logFile: proc.logFile!,
  }
}

/** The server's own group-commit latency (`mi_flush_latency_us`) from a stats answer. */
export function flushLatency(stats: OursStats): { p50_us: number; p99_us: number; p999_us: number } | null {
  const h = stats.metrics.histograms.find((x) => x.name === 'mi_flush_latency_us')
  if (!h || h.count === 0) return null
  return { p50_us: h.p50, p99_us: h.p99, p999_us: h.p999 }
}

/**
 * Where a record's time goes inside our server, from the histograms it keeps (p50/p99 µs each):
 * `writer_queue` parser accept → writer append (ring hop + the writer busy with the previous group),
 * `write` writev, `fsync` fdatasync, `flush` first append of a group → durable, `ack_wait` parser
 * accept → ACK queued (everything between). Client ack − ack_wait ≈ main thread, rings and network.
 * A histogram the server does not keep (an older checkout) is left out.
 */
export function stageBreakdown(stats: OursStats): Record<string, number> {
  const out: Record<string, number> = {}
  const stages = [
    ['writer_queue', 'mi_writer_queue_us'],
    ['write', 'mi_write_latency_us'],
    ['fsync', 'mi_fsync_latency_us'],
    ['flush', 'mi_flush_latency_us'],
    ['ack_wait', 'mi_ack_latency_us'],
    ['group_records', 'mi_group_records'],
  ] as const
  for (const [label, name] of stages) {
    const h = stats.metrics.histograms.find((x) => x.name === name)
    if (!h || h.count === 0) continue
    out[`${label}_p50`] = h.p50
    out[`${label}_p99`] = h.p99
  }
  return out
}

export type { Spawned }
