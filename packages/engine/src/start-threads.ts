/**
 * Starting the data-path threads: the rings and doorbells that connect them, then the writer (it
 * opens the log and runs recovery), then the parsers, each awaited until ready.
 *
 * Its own file because it is the one part of startEngine() that must be all or nothing: either
 * every thread is up, or none is left behind (abort() closes the credential store and ends them)
 * and the start rejects with a coded error. engine.ts wires what it returns.
 */
import type { CredentialStore } from '@module-ingest/auth'
import type { ServerConfig } from '@module-ingest/config'
import { createDoorbell, createRing } from '@module-ingest/ring'
import { MI_ERR_ENGINE_LOG_OPEN, MI_ERR_ENGINE_WORKER_START } from './errors.ts'
import type { ParserControl, ParserInit } from './parser/worker.ts'
import { describe, type Spawned, spawn, untilReady } from './threads.ts'
import type { WriterControl, WriterInit } from './writer/worker.ts'

const PARSER_URL = new URL('./parser/worker.ts', import.meta.url)
const WRITER_URL = new URL('./writer/worker.ts', import.meta.url)

/**
 * Create the rings, start the writer and wait for the log to open, then start the parsers and wait
 * for each. Rejects (MI_ERR_ENGINE_LOG_OPEN, MI_ERR_ENGINE_WORKER_START) with no thread left behind.
 */
export async function startThreads(
  config: ServerConfig,
  options: { protectGroups?: string[] },
  logDir: string,
  credentialsFile: string,
  credentials: CredentialStore,
) {
  const parsers = config.workers.parsers
  const mainDoorbell = createDoorbell()
  const writerDoorbell = createDoorbell()
  const acks = new SharedArrayBuffer(4 * parsers)
  const lost = new SharedArrayBuffer(4 * parsers)
  const lanes = Array.from({ length: parsers }, () => ({
    inbound: createRing(config.ring.inboundBytes),
    outbound: createRing(config.ring.outboundBytes),
    toWriter: createRing(config.ring.toWriterBytes),
    doorbell: createDoorbell(),
  }))

  const threads: Array<Spawned<unknown>> = []
  const abort = async (err: Error): Promise<never> => {
    credentials.close()
    await Promise.all(threads.map((t) => t.worker.terminate()))
    throw err
  }

  // Writer first: it runs recovery, and parsers must not accept frames before the log is open.
  const writer = spawn<WriterControl>(
    WRITER_URL,
    'writer',
    (control) =>
      ({
        logDir,
        // The whole log table (packages/log/src/options.ts), as validated by the config.
        log: {
          ...config.log,
          retention: { ...config.log.retention, protectGroups: options.protectGroups ?? [] },
        },
        rings: lanes.map((l) => l.toWriter),
        doorbell: writerDoorbell,
        parserDoorbells: lanes.map((l) => l.doorbell),
        acks,
        lost,
        control,
      }) satisfies WriterInit,
    { mb: config.workers.writerHeapMb, key: 'workers.writerHeapMb' },
    writerDoorbell,
  )
  threads.push(writer)
  let durableSignal: Int32Array
  try {
    await untilReady(writer, writer.control.stats()) // resolves once the log is open (recovery done)
    // The log's own signal, shared with this thread: the one way in-process readers learn of commits.
    durableSignal = await untilReady(writer, writer.control.durableSignal())
  } catch (err) {
    return abort(new MI_ERR_ENGINE_LOG_OPEN(logDir, describe(err), logDir, { cause: err }))
  }

  const { limits } = config
  const parserThreads = lanes.map((lane, i) =>
    spawn<ParserControl>(
      PARSER_URL,
      `parser-${i}`,
      (control) =>
        ({
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
          control,
        }) satisfies ParserInit,
      { mb: config.workers.parserHeapMb, key: 'workers.parserHeapMb' },
      lane.doorbell,
    ),
  )
  threads.push(...parserThreads)
  try {
    await Promise.all(
      parserThreads.map((p) =>
        untilReady(p, p.control.stats()).catch((err: unknown) => {
          throw new MI_ERR_ENGINE_WORKER_START(p.name, describe(err), { cause: err })
        }),
      ),
    )
  } catch (err) {
    return abort(err as Error)
  }
  return { parsers, mainDoorbell, lanes, threads, writer, durableSignal, parserThreads }
}

function serverName(config: ServerConfig): string {
  const flush =
    config.log.flush === 'always'
      ? 'durable=fdatasync'
      : `durable=${config.log.flush} (weaker than fdatasync)`
  return `module-ingest/0.1 ${flush}`
}
