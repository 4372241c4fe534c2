/**
 * `startEngine(config)`: the data path of docs/ARCHITECTURE.md, and nothing else.
 *
 *   listener ─▶ Connections ─▶ inbound rings ─▶ parser workers ─▶ writer rings ─▶ writer worker
 *                    ▲                                  │                              │
 *                    └────────── outbound rings ◀───────┘◀──────── durable counts ◀────┘
 *
 * Lifecycle: startEngine() opens the log (recovery) and starts every thread, but accepts nothing;
 * listen() opens the MIP/1 port, last, once the host has started everything else; close() is the
 * graceful path of SIGTERM: stop accepting and reading, let parsers finish what they accepted and
 * ACK it, tell clients SHUTTING_DOWN, fdatasync and close the log.
 *
 * What is not here belongs to the host (apps/server): the development credential, subscribers, the
 * admin socket, the HTTP listener, signals and the order they all stop in.
 */
import { mkdir } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { CredentialStore, FailureThrottle, type OperatorResult } from '@module-ingest/auth'
import type { ServerConfig } from '@module-ingest/config'
import { watchDurable } from '@module-ingest/log/durable-signal'
import type { PackedRecords } from '@module-ingest/log/packed'
import { ErrorCode } from '@module-ingest/protocol'
import { type Logger, Metrics } from '@module-ingest/telemetry'
import { ClaimCoordinator } from './claims.ts'
import { Connections } from './connections.ts'
import {
  MI_ERR_ENGINE_LISTEN_FAILED,
  MI_ERR_ENGINE_LOG_OPEN,
  MI_ERR_ENGINE_STATE,
  MI_ERR_ENGINE_WORKER_EXITED,
  unknownMessage,
} from './errors.ts'
import { type Listener, listen } from './listener.ts'
import type { ParserCommand, ParserEvent, WriterEvent } from './messages.ts'
import { startThreads } from './start-threads.ts'
import { type EngineStats, startMetrics } from './stats.ts'
import { describe } from './threads.ts'

export interface Engine {
  /** Where MIP/1 clients connect; null until listen(). */
  readonly address: { host: string; port: number } | null
  /** The registry the engine's gauges and worker snapshots land in (the host may add its own). */
  readonly metrics: Metrics
  /** The log directory (`<dataDir>/log`), for readers in this process. */
  readonly logDir: string
  /** false while the log cannot make data durable (disk full, I/O error). */
  readonly logAvailable: boolean
  /** Open the MIP/1 port. Call it last: from here on clients are accepted. */
  listen(): Promise<{ host: string; port: number }>
  /** Subscribe to durable-watermark moves; returns an unsubscribe. */
  onDurable(listener: (durableLsn: number) => void): () => void
  /**
   * The log's durable signal (packages/log durable-signal.ts), for readers in this process:
   * `openReader(engine.logDir, { durableSignal })` wakes on every commit without the file watch.
   */
  readonly durableSignal: Int32Array
  /** Append records as an internal module (derived records, dead letters); resolves once durable. */
  appendInternal(module: string, records: Array<{ stream: string; body: Uint8Array }>): Promise<unknown>
  /** The same for records packed by `RecordPacker` (`@module-ingest/log/packed`): one append, one copy. */
  appendPacked(module: string, packed: PackedRecords): Promise<unknown>
  stats(): Promise<EngineStats>
  /**
   * Check an operator bearer token against the live credential set (reloaded on change): the
   * host's HTTP APIs (queries, dashboard) authorize with it.
   */
  verifyOperator(token: unknown): OperatorResult
  /**
   * Called after each credential reload that changed the set (the file is watched here, once):
   * a host thread holding its own copy (the read APIs' thread) reloads it then, as parsers do.
   * Returns an unsubscribe.
   */
  onCredentialsReloaded(listener: () => void): () => void
  /**
   * First half of a graceful shutdown: stop accepting and reading, let parsers finish what they
   * accepted and ACK it once durable, send SHUTTING_DOWN, close sockets. The log stays open, so
   * the host can still stop what appends to it (subscribers' emits). Idempotent.
   */
  stopIngest(): Promise<void>
  /** Second half (runs stopIngest() first if needed): sync and close the log, end every worker. */
  close(): Promise<void>
}

export interface EngineOptions {
  logger: Logger
  /** Default: a new registry. */
  metrics?: Metrics
  /** Consumer groups retention must not delete unread data of (the host's subscribers). */
  protectGroups?: string[]
  /**
   * A data-path worker died after start: the engine cannot go on, and everything acknowledged is
   * on disk. Default: rethrow (the process exits; the log recovers on the next start).
   */
  onFatal?: (err: Error) => void
}

/**
 * Open the log and start the writer and parser threads. Rejects with a coded error (and leaves no
 * thread behind) when any of them cannot start: MI_ERR_ENGINE_LOG_OPEN names the log's own error.
 */
export async function startEngine(config: ServerConfig, options: EngineOptions): Promise<Engine> {
  const { logger } = options
  const metrics = options.metrics ?? new Metrics()
  const logDir = join(resolve(config.dataDir), 'log')
  await mkdir(logDir, { recursive: true }).catch((err: unknown) => {
    throw new MI_ERR_ENGINE_LOG_OPEN(logDir, describe(err), logDir, { cause: err })
  })
  const credentialsFile = resolve(config.credentialsFile)
  const credentials = await CredentialStore.load(credentialsFile)
  for (const w of credentials.warnings) logger.warn({ event: 'AuthCredentialsWarning' }, w)

  const { parsers, mainDoorbell, lanes, threads, writer, durableSignal, parserThreads } = await startThreads(
    config,
    options,
    logDir,
    credentialsFile,
    credentials,
  )
  const { limits } = config
  const parserControls = parserThreads.map((p) => p.control)

  let logAvailable = true
  const claims = new ClaimCoordinator((worker, cmd) => parserThreads[worker]!.post(cmd), {
    workers: parsers,
  })
  const onWriterEvent = (event: WriterEvent) => {
    switch (event.code) {
      case 'BARRIER':
        return claims.barrier(event.token, event.hwm)
      case 'LOG_UNAVAILABLE':
        logAvailable = false
        logger.error(
          { event: 'LogWriteError', err: event.message },
          'log cannot make data durable: OVERLOADED',
        )
        for (const p of parserThreads) p.post({ code: 'OVERLOADED' } satisfies ParserCommand)
        return
      case 'LOG_AVAILABLE':
        logAvailable = true
        logger.info({ event: 'LogWriteResumed' }, 'log is writable again')
        return
      default:
        return unknownMessage('writer event', event)
    }
  }

  const throttle = new FailureThrottle({ maxFailures: limits.failedHandshakesPerMinute, windowMs: 60_000 })
  const connections = new Connections(
    lanes.map((l) => ({ inbound: l.inbound, outbound: l.outbound, doorbell: l.doorbell })),
    mainDoorbell,
    {
      maxConnections: limits.maxConnections,
      maxConnectionsPerIp: limits.maxConnectionsPerIp,
      ipBytesPerSec: limits.ipBytesPerSec ?? 0,
      outputBudgetBytes: Math.floor(limits.memoryBudgetBytes / 2),
    },
    {
      admit(ip) {
        if (!logAvailable) return ErrorCode.OVERLOADED
        if (throttle.check(ip)) {
          logger.warn({ event: 'AuthHandshakeThrottled', remoteAddress: ip }, 'handshake throttled')
          return ErrorCode.RATE_LIMITED
        }
        return 0
      },
    },
  )
  const onParserEvent = (event: ParserEvent) => {
    switch (event.code) {
      case 'CLAIM':
        return claims.claim(event)
      case 'AUTH_FAILED': {
        const ip = connections.ipOf(event.connId) ?? 'unknown'
        throttle.fail(ip)
        const wait = throttle.retryAfterMs(ip)
        if (wait > 0)
          for (const p of parserThreads) p.post({ code: 'THROTTLE', ip, ms: wait } satisfies ParserCommand)
        logger.warn({
          event: 'AuthFailed',
          module: event.module,
          reason: event.reason,
          connId: event.connId,
          remoteAddress: ip,
        })
        return
      }
      case 'AUTH_OK': {
        const ip = connections.ipOf(event.connId)
        throttle.succeed(ip)
        logger.info({ event: 'AuthSucceeded', module: event.module, connId: event.connId, remoteAddress: ip })
        return
      }
      case 'AUTH_REVOKED':
        logger.warn(
          { event: 'AuthSessionRevoked', module: event.module, reason: event.reason, connId: event.connId },
          'session ended: its credential no longer admits it',
        )
        return
      default:
        return unknownMessage('parser event', event)
    }
  }

  // Without its writer or a parser the data path is broken: fail fast rather than limp on.
  let stopping = false
  const fatal = (err: Error) => {
    if (stopping) return
    stopping = true
    logger.fatal({ event: 'EngineWorkerCrashed', err }, 'a data-path worker died')
    if (options.onFatal) options.onFatal(err)
    else
      queueMicrotask(() => {
        throw err
      })
  }
  // A handler that throws (an unknown message code) is as fatal as a dead worker.
  const guard =
    <T>(handle: (event: T) => void) =>
    (event: T) => {
      try {
        handle(event)
      } catch (err) {
        fatal(err as Error)
      }
    }
  writer.worker.on('message', guard(onWriterEvent))
  for (const p of parserThreads) p.worker.on('message', guard(onParserEvent))
  for (const t of threads) {
    t.down.catch((err: Error & { code?: string }) =>
      // A heap cap reached is already precise (worker, limit, config key): pass it on as it is.
      fatal(
        err.code === 'MI_ERR_ENGINE_WORKER_MEMORY'
          ? err
          : new MI_ERR_ENGINE_WORKER_EXITED(t.name, describe(err), { cause: err }),
      ),
    )
  }

  // Credentials: main watches the file; each parser reloads its own copy (control plane), and so
  // does any host thread that asked (onCredentialsReloaded).
  const reloadListeners = new Set<() => void>()
  credentials.watch(
    () => {
      logger.info({ event: 'AuthCredentialsReloaded' }, 'credentials reloaded')
      for (const l of reloadListeners) l()
      for (const [i, c] of parserControls.entries()) {
        // A parser re-reads the file itself; if that read fails it keeps its last good set.
        c.reloadCredentials().catch((err: Error) =>
          logger.error(
            { event: 'AuthCredentialsReloadError', parser: i, err: err.message },
            'credentials not reloaded',
          ),
        )
      }
    },
    (err) =>
      logger.error({ event: 'AuthCredentialsReloadError', err: err.message }, 'credentials not reloaded'),
  )

  const { pull, puller } = startMetrics(metrics, writer, parserControls, connections)

  let listener: Listener | null = null
  let address: { host: string; port: number } | null = null
  let draining: Promise<void> | null = null
  let closing: Promise<void> | null = null
  const stopIngest = () => {
    draining ??= (async () => {
      const timeoutMs = config.shutdown.gracefulTimeoutMs
      stopping = true // workers exiting from here on are ours to stop
      // close() stops accepting now but calls back only once every socket is gone: await it last.
      const listenerClosed = listener?.close()
      connections.stopReading()
      await Promise.all(parserControls.map((c) => c.drain(timeoutMs)))
      await connections.closeAll(2000)
      await listenerClosed
    })()
    return draining
  }

  return {
    get address() {
      return address
    },
    metrics,
    logDir,
    get logAvailable() {
      return logAvailable
    },
    async listen() {
      if (listener || draining) throw new MI_ERR_ENGINE_STATE('listen() after listen() or close()')
      const where = `${config.listen.host}:${config.listen.port}`
      try {
        listener = await listen(config, logger, (socket, tlsIdentity) =>
          connections.accept(socket, tlsIdentity),
        )
      } catch (err) {
        throw new MI_ERR_ENGINE_LISTEN_FAILED(where, describe(err), { cause: err })
      }
      const a = listener.server.address() as AddressInfo
      address = { host: a.address, port: a.port }
      logger.info(
        { event: 'ServerListening', host: a.address, port: a.port, parsers, flush: config.log.flush },
        `module-ingest listening on ${a.address}:${a.port}`,
      )
      return address
    },
    onDurable: (listener) => watchDurable(durableSignal, listener),
    durableSignal,
    appendInternal: (module, records) => writer.control.appendInternal(module, records),
    // Cloned, not transferred: the runtime retries a failed append with the same records.
    appendPacked: (module, packed) => writer.control.appendPacked(module, packed),
    async stats() {
      const { w, ps } = await pull()
      return {
        connections: connections.stats(),
        parsers: ps,
        writer: w,
        logAvailable,
        metrics: metrics.summary(),
      }
    },
    verifyOperator: (token) => credentials.verifyOperator(token),
    onCredentialsReloaded(listener) {
      reloadListeners.add(listener)
      return () => reloadListeners.delete(listener)
    },
    stopIngest,
    close() {
      closing ??= (async () => {
        await stopIngest()
        await writer.control.close()
        clearInterval(puller)
        credentials.close()
        await Promise.all(threads.map((t) => t.worker.terminate()))
      })()
      return closing
    },
  }
}
