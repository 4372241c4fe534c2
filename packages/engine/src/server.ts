/**
 * `startServer(config)`: builds the topology of docs/ARCHITECTURE.md and returns a handle to it.
 *
 *   listener ─▶ Connections ─▶ inbound rings ─▶ parser workers ─▶ writer rings ─▶ writer worker
 *                    ▲                                  │                              │
 *                    └────────── outbound rings ◀───────┘◀──────── durable counts ◀────┘
 *
 * Lifecycle: start → serve → close(). close() is the graceful path of SIGTERM: stop accepting and
 * reading, let parsers finish what they accepted and ACK it, tell clients SHUTTING_DOWN, fdatasync
 * and close the log, stop subscribers (committing their offsets).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { MessageChannel, Worker } from 'node:worker_threads'
import { CredentialStore, ensureDevCredential, FailureThrottle } from '@module-ingest/auth'
import type { ServerConfig } from '@module-ingest/config'
import { ErrorCode } from '@module-ingest/protocol'
import { createDoorbell, createRing } from '@module-ingest/ring'
import { type SubscriberRuntime, startSubscribers } from '@module-ingest/subscriber-runtime'
import {
  type AdminServer,
  getRecentLogs,
  type Logger,
  Metrics,
  startAdminServer,
  startMetricsServer,
} from '@module-ingest/telemetry'
import * as Comlink from 'comlink'
import { ClaimCoordinator } from './claims.ts'
import { Connections } from './connections.ts'
import { listen } from './listener.ts'
import {
  createDurableSignal,
  onDurable,
  type ParserCommand,
  type ParserEvent,
  type WriterEvent,
} from './messages.ts'
import type { ParserControl, ParserInit } from './parser/worker.ts'
import type { WriterControl, WriterInit } from './writer/worker.ts'

export interface Server {
  /** Where MIP/1 clients connect. */
  readonly address: { host: string; port: number }
  /** Where Prometheus scrapes, if enabled. */
  readonly metricsAddress: { host: string; port: number } | null
  stats(): Promise<ServerStats>
  /** Graceful shutdown; resolves when the log is closed. */
  close(): Promise<void>
}

export interface ServerStats {
  connections: ReturnType<Connections['stats']>
  parsers: Array<Awaited<ReturnType<ParserControl['stats']>>>
  writer: Awaited<ReturnType<WriterControl['stats']>>
  subscribers: unknown
  logAvailable: boolean
  metrics: ReturnType<Metrics['summary']>
}

export interface StartOptions {
  logger: Logger
  /** Called once with the development secret when one was just created (print it once). */
  onDevCredential?: (info: { module: string; token: string; file: string }) => void
  /**
   * A data-path worker died: the server cannot go on, and everything acknowledged is on disk.
   * Default: rethrow (the process exits; the log recovers on the next start).
   */
  onFatal?: (err: Error) => void
}

const PARSER_URL = new URL('./parser/worker.ts', import.meta.url)
const WRITER_URL = new URL('./writer/worker.ts', import.meta.url)

export async function startServer(config: ServerConfig, options: StartOptions): Promise<Server> {
  const { logger } = options
  const dataDir = resolve(config.dataDir)
  const logDir = join(dataDir, 'log')
  await mkdir(logDir, { recursive: true })

  const credentialsFile = resolve(config.credentialsFile)
  const dev = await ensureDevCredential(credentialsFile)
  if (dev.created) {
    const tokenFile = join(dataDir, 'dev-token')
    await writeFile(tokenFile, `${dev.token}\n`, { mode: 0o600 })
    options.onDevCredential?.({ module: dev.module, token: dev.token, file: tokenFile })
  }
  const credentials = await CredentialStore.load(credentialsFile)
  for (const w of credentials.warnings) logger.warn({ event: 'AuthCredentialsWarning' }, w)

  const parsers = config.workers.parsers
  const mainDoorbell = createDoorbell()
  const writerDoorbell = createDoorbell()
  const acks = new SharedArrayBuffer(4 * parsers)
  const lost = new SharedArrayBuffer(4 * parsers)
  const durableSignal = createDurableSignal()
  const lanes = Array.from({ length: parsers }, () => ({
    inbound: createRing(config.ring.inboundBytes),
    outbound: createRing(config.ring.outboundBytes),
    toWriter: createRing(config.ring.toWriterBytes),
    doorbell: createDoorbell(),
  }))

  // Writer first: it runs recovery, and parsers must not accept frames before the log is open.
  const writerPort = new MessageChannel()
  const writer = new Worker(WRITER_URL, {
    name: 'mi-writer',
    workerData: {
      logDir,
      log: {
        segmentSizeBytes: config.log.segmentSizeBytes,
        flush: config.log.flush,
        flushIntervalMs: config.log.flushIntervalMs,
        groupCommitMaxDelayMs: config.log.groupCommitMaxDelayMs,
        groupCommitMaxBytes: config.log.groupCommitMaxBytes,
        compression: config.log.compression,
        retention: {
          ...config.log.retention,
          protectGroups: config.subscribers.filter((s) => s.enabled).map((s) => `sub.${s.name}`),
        },
      },
      rings: lanes.map((l) => l.toWriter),
      doorbell: writerDoorbell,
      parserDoorbells: lanes.map((l) => l.doorbell),
      acks,
      lost,
      durableSignal,
      control: writerPort.port2,
    } satisfies WriterInit,
    transferList: [writerPort.port2],
  })
  const writerControl = Comlink.wrap<WriterControl>(writerPort.port1 as unknown as Comlink.Endpoint)
  await waitOnline(writer, 'writer')
  await writerControl.stats() // resolves once the log is open (recovery done)

  let logAvailable = true
  const claims = new ClaimCoordinator((worker, cmd) => parserWorkers[worker]!.postMessage(cmd), {
    workers: parsers,
  })
  writer.on('message', (event: WriterEvent) => {
    if (event.code === 'BARRIER') claims.barrier(event.token, event.hwm)
    else if (event.code === 'LOG_UNAVAILABLE') {
      logAvailable = false
      logger.error({ event: 'LogWriteError', err: event.message }, 'log cannot make data durable: OVERLOADED')
      for (const p of parserWorkers) p.postMessage({ code: 'OVERLOADED' } satisfies ParserCommand)
    } else if (event.code === 'LOG_AVAILABLE') {
      logAvailable = true
      logger.info({ event: 'LogWriteResumed' }, 'log is writable again')
    }
  })

  const { limits } = config
  const parserWorkers: Worker[] = []
  const parserControls: Array<Comlink.Remote<ParserControl>> = []
  for (let i = 0; i < parsers; i++) {
    const port = new MessageChannel()
    const lane = lanes[i]!
    const worker = new Worker(PARSER_URL, {
      name: `mi-parser-${i}`,
      workerData: {
        index: i,
        inbound: lane.inbound,
        outbound: lane.outbound,
        toWriter: lane.toWriter,
        doorbell: lane.doorbell,
        writerDoorbell,
        mainDoorbell,
        acks,
        lost,
        limits: {
          maxFrame: limits.maxFrameBytes,
          heartbeatMs: limits.heartbeatMs,
          serverName: serverName(config),
          moduleBytesPerSec: limits.moduleBytesPerSec ?? 0,
          moduleMsgsPerSec: limits.moduleMsgsPerSec ?? 0,
          partialFrameBudgetBytes: Math.floor(limits.memoryBudgetBytes / 2 / parsers),
          failedHandshakesPerMinute: limits.failedHandshakesPerMinute,
        },
        idleTimeoutMs: 3 * limits.heartbeatMs,
        handshakeTimeoutMs: limits.handshakeTimeoutMs,
        credentialsFile,
        control: port.port2,
      } satisfies ParserInit,
      transferList: [port.port2],
    })
    parserWorkers.push(worker)
    parserControls.push(Comlink.wrap<ParserControl>(port.port1 as unknown as Comlink.Endpoint))
  }
  await Promise.all(parserWorkers.map((w, i) => waitOnline(w, `parser-${i}`)))
  await Promise.all(parserControls.map((c) => c.stats()))

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
  for (const worker of parserWorkers) {
    worker.on('message', (event: ParserEvent) => {
      if (event.code === 'CLAIM') claims.claim(event)
      else if (event.code === 'AUTH_FAILED') {
        const ip = connections.ipOf(event.connId) ?? 'unknown'
        throttle.fail(ip)
        const wait = throttle.retryAfterMs(ip)
        if (wait > 0)
          for (const p of parserWorkers)
            p.postMessage({ code: 'THROTTLE', ip, ms: wait } satisfies ParserCommand)
        logger.warn({
          event: 'AuthFailed',
          module: event.module,
          reason: event.reason,
          connId: event.connId,
          remoteAddress: ip,
        })
      } else if (event.code === 'AUTH_OK') {
        const ip = connections.ipOf(event.connId)
        throttle.succeed(ip)
        logger.info({ event: 'AuthSucceeded', module: event.module, connId: event.connId, remoteAddress: ip })
      } else if (event.code === 'AUTH_REVOKED') {
        logger.warn(
          { event: 'AuthSessionRevoked', module: event.module, reason: event.reason, connId: event.connId },
          'session ended: its credential no longer admits it',
        )
      }
    })
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
  for (const w of [writer, ...parserWorkers]) {
    w.on('error', fatal)
    w.on('exit', (code) => fatal(new Error(`worker ${w.threadId} exited (code ${code})`)))
  }

  // Credentials: main watches the file; each parser reloads its own copy (control plane).
  credentials.watch(
    () => {
      logger.info({ event: 'AuthCredentialsReloaded' }, 'credentials reloaded')
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

  const listener = await listen(config, logger, (socket, tlsIdentity) =>
    connections.accept(socket, tlsIdentity),
  )
  const address = listener.server.address() as AddressInfo
  logger.info(
    { event: 'ServerListening', host: address.address, port: address.port, parsers, flush: config.log.flush },
    `module-ingest listening on ${address.address}:${address.port}`,
  )

  // Metrics: this thread's own, plus worker snapshots pulled once a second.
  const metrics = new Metrics()
  metrics.gauge('mi_connections', 'Open client connections', { collect: () => connections.size })
  let subscribers: SubscriberRuntime | null = null
  const ringUsed = metrics.gauge('mi_ring_used_bytes', 'Bytes waiting in each ring', {
    labels: ['ring', 'parser'],
  })
  const logBytes = metrics.gauge('mi_log_bytes', 'Bytes of log segments on disk')
  const oldest = metrics.gauge('mi_log_oldest_record_age_seconds', 'Age of the oldest record kept')
  const lag = metrics.gauge('mi_subscriber_lag_records', 'Committed records a subscriber has not consumed', {
    labels: ['subscriber'],
  })
  const rate = metrics.gauge('mi_ingest_records_per_second', 'Records appended per second (last interval)')
  const byteRate = metrics.gauge('mi_ingest_bytes_per_second', 'Log bytes written per second (last interval)')
  let last = { at: performance.now(), records: 0, bytes: 0 }
  const pull = async () => {
    const [w, ...ps] = await Promise.all([writerControl.stats(), ...parserControls.map((c) => c.stats())])
    metrics.mergeFrom('writer', w.metrics)
    for (const [i, p] of ps.entries()) {
      metrics.mergeFrom(`parser-${i}`, p.metrics)
      ringUsed.set({ ring: 'inbound', parser: String(i) }, p.inboundRingUsedBytes)
      ringUsed.set({ ring: 'writer', parser: String(i) }, w.writerRingUsedBytes[i] ?? 0)
    }
    for (const [i, used] of connections.stats().outboundRingUsedBytes.entries()) {
      ringUsed.set({ ring: 'outbound', parser: String(i) }, used)
    }
    logBytes.set(w.log.bytesOnDisk)
    if (w.log.oldestRecordTsUs) oldest.set(Math.max(0, Date.now() / 1000 - w.log.oldestRecordTsUs / 1e6))
    for (const s of subscribers?.stats() ?? []) lag.set({ subscriber: s.name }, s.lagRecords)
    const now = { at: performance.now(), records: w.log.committedRecords, bytes: w.log.committedBytes }
    const dt = (now.at - last.at) / 1000
    if (dt > 0.2) {
      rate.set(Math.round((now.records - last.records) / dt))
      byteRate.set(Math.round((now.bytes - last.bytes) / dt))
      last = now
    }
    return { w, ps }
  }
  const puller = setInterval(() => void pull().catch(() => {}), 1000)
  puller.unref()

  const enabled = config.subscribers.filter((s) => s.enabled)
  if (enabled.length > 0) {
    subscribers = await startSubscribers({
      dataDir: logDir,
      subscribers: enabled,
      logger: logger.child({ component: 'subscribers' }),
      durableSignal: onDurable(durableSignal),
      emit: async (records) => {
        await writerControl.appendInternal(
          'mi:subscribers',
          records.map((r) => ({
            stream: r.stream,
            body: typeof r.body === 'string' ? Buffer.from(r.body) : r.body,
          })),
        )
      },
    })
  }

  const stats = async (): Promise<ServerStats> => {
    const { w, ps } = await pull()
    return {
      connections: connections.stats(),
      parsers: ps,
      writer: w,
      subscribers: subscribers?.stats() ?? null,
      logAvailable,
      metrics: metrics.summary(),
    }
  }

  let admin: AdminServer | null = null
  if (config.telemetry.adminSocket) {
    admin = await startAdminServer(config.telemetry.adminSocket, {
      stats: () => stats(),
      logs: (args) => getRecentLogs(logger, typeof args.n === 'number' ? args.n : 100),
    })
  }
  const metricsServer = config.telemetry.metrics
    ? await startMetricsServer({ ...config.telemetry.metrics.listen, metrics, healthy: () => logAvailable })
    : null

  let closing: Promise<void> | null = null
  const close = () => {
    closing ??= (async () => {
      const timeoutMs = config.shutdown.gracefulTimeoutMs
      stopping = true // workers exiting from here on are ours to stop
      logger.info({ event: 'ServerShutdownStarted', timeoutMs }, 'shutting down')
      // close() stops accepting now but calls back only once every socket is gone: await it last.
      const listenerClosed = listener.close()
      connections.stopReading()
      await Promise.all(parserControls.map((c) => c.drain(timeoutMs)))
      await connections.closeAll(2000)
      await listenerClosed
      await subscribers?.close()
      await writerControl.close()
      clearInterval(puller)
      await admin?.close()
      await metricsServer?.close()
      credentials.close()
      await Promise.all([writer, ...parserWorkers].map((w) => w.terminate()))
      logger.info({ event: 'ServerShutdownCompleted' }, 'shut down cleanly')
    })()
    return closing
  }

  return {
    address: { host: address.address, port: address.port },
    metricsAddress: metricsServer?.address ?? null,
    stats,
    close,
  }
}

function serverName(config: ServerConfig): string {
  const flush =
    config.log.flush === 'always'
      ? 'durable=fdatasync'
      : `durable=${config.log.flush} (weaker than fdatasync)`
  return `module-ingest/0.1 ${flush}`
}

async function waitOnline(worker: Worker, name: string): Promise<void> {
  await new Promise<void>((ok, fail) => {
    worker.once('online', ok)
    worker.once('error', (err) =>
      fail(new Error(`${name} worker failed to start: ${err.message}`, { cause: err })),
    )
    worker.once('exit', (code) => fail(new Error(`${name} worker exited during start (code ${code})`)))
  })
}
