/**
 * The server, assembled: every part `module-ingest serve` runs, in the order it starts.
 *
 *   dev credential → TLS files → engine (log recovery, writer + parser threads) → subscribers (their
 *   own thread) → admin socket
 *   → read APIs' thread and listener (reads.ts) → HTTP listener (/metrics, /healthz) → MIP/1 listener, last
 *
 * It starts whole or not at all: a part that fails stops the parts started before it, in reverse,
 * and the error goes to the caller. The MIP/1 port opens last, so a server that could not start
 * never accepted a connection. close() stops in the order that loses nothing: stop ingest (every
 * accepted frame is durable and ACKed) → subscribers (commit offsets; their emits still reach the
 * log) → the log and its threads → admin socket → HTTP listener → read APIs' thread.
 */
import { readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { ensureDevCredential, loadTlsContext } from '@module-ingest/auth'
import type { ServerConfig } from '@module-ingest/config'
import { isLoopbackHost, operatorAuthorizer, startDashboard } from '@module-ingest/dashboard'
import { type Engine, type EngineStats, startEngine } from '@module-ingest/engine'
import {
  type StartSubscribersOptions,
  type SubscriberRuntime,
  startSubscribers,
  startSubscribersThread,
} from '@module-ingest/subscriber-runtime'
import {
  getRecentLogs,
  type HttpHandler,
  type Logger,
  Metrics,
  startAdminServer,
  startMetricsServer,
} from '@module-ingest/telemetry'
import { probeLoopDelayInto } from '@module-ingest/telemetry/loop-delay'
import { MI_ERR_SERVER_START_FAILED } from './errors.ts'
import { indexQueryApi } from './index-api.ts'
import { kvReadHandler } from './kv.ts'
import { builtinPlugins, instancesOf } from './plugins.ts'
import { pointToReads, type ReadsThread, startReadsThread } from './reads.ts'
import { type SubscriberMetrics, subscriberMetrics } from './subscriber-metrics.ts'

export interface Server {
  /** Where MIP/1 clients connect. */
  readonly address: { host: string; port: number }
  /** Where Prometheus scrapes, if enabled. */
  readonly metricsAddress: { host: string; port: number } | null
  /** The read APIs' own listener (telemetry.reads), when it runs: a kv or index subscriber is on. */
  readonly readsAddress: { host: string; port: number } | null
  stats(): Promise<ServerStats>
  /** Graceful shutdown; resolves when the log is closed. Idempotent. */
  close(): Promise<void>
}

export interface ServerStats extends EngineStats {
  subscribers: ReturnType<SubscriberRuntime['stats']> | null
}

export interface ServerOptions {
  logger: Logger
  /** Called once with the development secret when one was just created (print it once). */
  onDevCredential?: (info: { module: string; token: string; file: string }) => void
  /** A data-path worker died after start (see the engine). Default: rethrow. */
  onFatal?: (err: Error) => void
  /** More routes on the HTTP listener (query APIs, dashboards), tried before /metrics and /healthz. */
  httpHandlers?: HttpHandler[]
}

/** How long a failed start may spend stopping what it started before it gives up and rethrows. */
const kAbortStartMs = 2000
export const kVersion: string = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
).version

export async function startServer(config: ServerConfig, options: ServerOptions): Promise<Server> {
  const { logger } = options
  const dataDir = resolve(config.dataDir)
  await mkdir(dataDir, { recursive: true })
  const dev = await ensureDevCredential(resolve(config.credentialsFile))
  if (dev.created) {
    const file = join(dataDir, 'dev-token')
    await writeFile(file, `${dev.token}\n`, { mode: 0o600 })
    options.onDevCredential?.({ module: dev.module, token: dev.token, file })
  }

  // Files first, before anything starts: a missing or mismatched certificate fails in milliseconds
  // (MI_ERR_AUTH_TLS_INVALID). The listener loads them again when it opens, last.
  if (config.tls) await loadTlsContext(config.tls)

  const metrics = new Metrics()
  metrics
    .gauge('mi_build_info', 'Always 1; labels name the build', { labels: ['version', 'node'] })
    .set({ version: kVersion, node: process.versions.node }, 1)
  const stopProbe = probeLoopDelayInto(metrics, 'main')
  const enabled = config.subscribers.filter((s) => s.enabled)
  const stops: Array<() => Promise<unknown>> = [] // what started, to stop in reverse if a later part fails
  try {
    const engine = await startEngine(config, {
      logger,
      metrics,
      protectGroups: enabled.map((s) => `sub.${s.name}`),
      ...(options.onFatal ? { onFatal: options.onFatal } : {}),
    })
    stops.push(() => engine.close())

    const subMetrics = subscriberMetrics(metrics, logger)
    const subscribers =
      enabled.length === 0 ? null : await startRuntime(config, enabled, engine, subMetrics, logger, options)
    if (subscribers) {
      stops.push(() => subscribers.close())
      subMetrics.source(() => subscribers.stats())
    }

    // Set once the reads thread runs (after the admin socket, which may already ask for stats).
    let readsThread: ReadsThread | null = null
    const stats = async (): Promise<ServerStats> => ({
      ...(await Promise.all([engine.stats(), readsThread?.pullMetrics()]))[0],
      subscribers: subscribers?.stats() ?? null,
    })
    const adminPath = config.telemetry.adminSocket
    const admin = adminPath
      ? await part(`the admin socket ${adminPath}`, () =>
          startAdminServer(adminPath, {
            // `window` (top sends one per process): add what each histogram recorded since that
            // reader's previous request, read right after stats() pulled every worker.
            stats: async (args) => {
              const s = await stats()
              const key = typeof args.window === 'string' ? args.window.slice(0, 64) : null
              return key === null ? s : { ...s, interval: metrics.window(`admin:${key}`).read() }
            },
            logs: (args) => getRecentLogs(logger, typeof args.n === 'number' ? args.n : 100),
          }),
        )
      : null
    if (admin) stops.push(() => admin.close())
    const http = config.telemetry.metrics ? config.telemetry.metrics.listen : null
    // The read APIs: on their own thread and listener (reads.ts), or with `telemetry.reads: false`
    // on the metrics listener, in this thread.
    const readsConfig = config.telemetry.reads
    const kvStores = instancesOf(config.subscribers, 'kv')
    const indexes = instancesOf(enabled, 'index')
    const reads =
      readsConfig && kvStores.length + indexes.length > 0
        ? await part(`the reads listener on ${readsConfig.listen.host}:${readsConfig.listen.port}`, () =>
            startReadsThread(
              {
                listen: readsConfig.listen,
                nice: readsConfig.nice,
                kv: kvStores,
                indexes,
                logDir: engine.logDir,
                credentialsFile: resolve(config.credentialsFile),
              },
              logger,
              metrics,
            ),
          )
        : null
    if (reads) {
      readsThread = reads
      stops.push(() => reads.close())
      engine.onCredentialsReloaded(() => reads.reloadCredentials())
    }
    const indexApi = !reads && http ? await indexQueryApi(enabled, engine) : null
    if (indexApi) stops.push(() => indexApi.close())
    const kvReads = !reads && http ? kvReadHandler(config, engine) : null
    if (kvReads) stops.push(() => kvReads.close())
    // The live dashboard (issue 19) rides on the HTTP listener; off loopback it needs an operator
    // token, checked by the engine's live credential set. Its per-sample percentiles come from its
    // own histogram window (held here, so never dropped), read right after each stats() has
    // pulled every worker.
    const dashboardWindow = metrics.window('dashboard')
    const dashboard =
      http && config.telemetry.dashboard
        ? startDashboard({
            stats: async () => ({ ...(await stats()), interval: dashboardWindow.read() }),
            dataDir: engine.logDir,
            onError: (err) => logger.debug({ err }, 'dashboard sample failed'),
            ...(isLoopbackHost(http.host) ? {} : { authorize: operatorAuthorizer(engine) }),
          })
        : null
    if (dashboard) stops.push(() => dashboard.close())
    const metricsServer = http
      ? await part(`the HTTP listener on ${http.host}:${http.port}`, () =>
          startMetricsServer({
            ...http,
            metrics,
            healthy: () => engine.logAvailable,
            handlers: [
              ...(options.httpHandlers ?? []),
              ...(dashboard ? [dashboard.handler] : []),
              ...(indexApi ? [indexApi] : []),
              ...(kvReads ? [kvReads] : []),
              ...(reads ? [pointToReads(reads.address)] : []),
            ],
          }),
        )
      : null
    if (metricsServer) stops.push(() => metricsServer.close())

    const address = await engine.listen()

    let closing: Promise<void> | null = null
    return {
      address,
      metricsAddress: metricsServer?.address ?? null,
      readsAddress: reads?.address ?? null,
      stats,
      close() {
        closing ??= (async () => {
          logger.info(
            { event: 'ServerShutdownStarted', timeoutMs: config.shutdown.gracefulTimeoutMs },
            'shutting down',
          )
          // The dashboard first: it only observes. Its open event streams would hold the HTTP listener.
          await dashboard?.close()
          await engine.stopIngest()
          await subscribers?.close()
          await engine.close()
          await admin?.close()
          await metricsServer?.close()
          await reads?.close()
          await indexApi?.close()
          await kvReads?.close()
          stopProbe()
          logger.info({ event: 'ServerShutdownCompleted' }, 'shut down cleanly')
        })()
        return closing
      },
    }
  } catch (err) {
    const stopped = (async () => {
      for (const stop of stops.reverse()) await stop().catch(() => {})
    })()
    await Promise.race([stopped, new Promise((r) => setTimeout(r, kAbortStartMs).unref())])
    stopProbe()
    throw err
  }
}

/**
 * The subscriber runtime: on a thread of its own (`subscriberRuntime.thread`, the default), niced,
 * so the main thread only serves sockets; or on this thread. Either way it reads the log with the
 * writer's durable signal (a SharedArrayBuffer, shared with the thread) and appends its emits here.
 */
async function startRuntime(
  config: ServerConfig,
  enabled: ServerConfig['subscribers'],
  engine: Engine,
  subMetrics: SubscriberMetrics,
  logger: Logger,
  options: ServerOptions,
): Promise<SubscriberRuntime> {
  const common: StartSubscribersOptions = {
    dataDir: engine.logDir,
    subscribers: enabled,
    plugins: builtinPlugins(),
    logger: logger.child({ component: 'subscribers' }),
    metrics: subMetrics.runtime,
    // The log's own signal: the runtime's reader wakes on it (no file watch, no relay).
    durableSignal: engine.durableSignal,
    // Dead letters come as records; a batch's derived records packed, as one append.
    emit: async (records) => {
      await engine.appendInternal('mi:subscribers', records)
    },
    emitPacked: async (packed) => {
      await engine.appendPacked('mi:subscribers', packed)
    },
  }
  if (!config.subscriberRuntime.thread) return startSubscribers(common)
  return startSubscribersThread({
    ...common,
    durableSignal: engine.durableSignal,
    nice: config.subscriberRuntime.nice,
    ...(options.onFatal ? { onFatal: options.onFatal } : {}),
  })
}

/** Start one part; an error without a code gets one that names the part. */
async function part<T>(what: string, start: () => Promise<T>): Promise<T> {
  try {
    return await start()
  } catch (err) {
    if (
      typeof (err as { code?: unknown }).code === 'string' &&
      /^MI_ERR_/.test((err as Error & { code: string }).code)
    )
      throw err
    throw new MI_ERR_SERVER_START_FAILED(what, (err as Error).message, { cause: err })
  }
}
