import pino, { type Level, type Logger } from 'pino'
import { writeRawLine } from './logger.ts'

/*
 * Worker threads log through the main thread:
 *
 *   worker: pino ──(JSON line)──> PortStream ──postMessage({code:'LOG', level, line})──┐
 *   main:   attachWorkerLogs(port, logger) ──writeRawLine──> multistream ─> stdout/file/memory ring
 *
 * Why not a pino in each worker writing to the same file? The memory ring (module-ingest logs) and
 * the pretty formatter live on the main thread, stdout in a worker is already relayed through the
 * main thread by Node, and one writer per file keeps lines whole without relying on O_APPEND.
 * The worker serialises the line itself (pino's fast path), so the main thread only writes a
 * string: no re-serialisation. Each line is one postMessage, sent at once so a crashing worker
 * does not take buffered lines with it.
 */

export const kLogMessageContext = 'mi.telemetry.log'

export interface WorkerLogMessage {
  code: 'LOG'
  context: typeof kLogMessageContext
  level: number
  line: string
}

/** A Worker (main side) or a MessagePort. */
export interface MessageSource {
  on(event: 'message', listener: (value: unknown) => void): unknown
  off(event: 'message', listener: (value: unknown) => void): unknown
}

interface PostTarget {
  postMessage(value: unknown): void
}

class PortStream {
  // pino sets lastLevel on streams carrying this symbol before each write.
  [pino.symbols.needsMetadataGsym] = true
  lastLevel = 30
  #port: PostTarget
  constructor(port: PostTarget) {
    this.#port = port
  }
  write(line: string): boolean {
    const msg: WorkerLogMessage = { code: 'LOG', context: kLogMessageContext, level: this.lastLevel, line }
    this.#port.postMessage(msg)
    return true
  }
}

export interface WorkerLoggerOptions {
  level?: Level | 'silent'
  /** Fields on every line, e.g. { worker: 'parser-0' }. */
  bindings?: Record<string, unknown>
}

/** A logger for a worker thread; pass `parentPort` or a dedicated MessagePort. */
export function createWorkerLogger(port: PostTarget, options: WorkerLoggerOptions = {}): Logger {
  return pino(
    { level: options.level ?? 'info', base: { pid: process.pid, ...options.bindings } },
    new PortStream(port),
  )
}

export function isWorkerLogMessage(msg: unknown): msg is WorkerLogMessage {
  return (
    typeof msg === 'object' &&
    msg !== null &&
    (msg as WorkerLogMessage).context === kLogMessageContext &&
    (msg as WorkerLogMessage).code === 'LOG'
  )
}

/**
 * Main-thread sink: relay LOG messages arriving on `port` (a Worker or a MessagePort) into
 * `logger`'s destinations. Other messages are left to the port's other listeners. Returns a
 * function that detaches the sink.
 */
export function attachWorkerLogs(port: MessageSource, logger: Logger): () => void {
  const onMessage = (msg: unknown) => {
    if (!isWorkerLogMessage(msg)) return
    if (!writeRawLine(logger, msg.level, msg.line)) {
      // A logger not built by createLogger: fall back to re-logging the parsed object.
      try {
        logger.info(JSON.parse(msg.line))
      } catch {
        logger.info({ line: msg.line }, 'unparsable worker log line')
      }
    }
  }
  port.on('message', onMessage)
  return () => port.off('message', onMessage)
}
