import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import pino, { type DestinationStream, type Level, type Logger, type StreamEntry } from 'pino'
import { MemoryLogRing } from './memory-ring.ts'
import { prettyStream } from './pretty.ts'

export type { Level, Logger }

export interface LoggerOptions {
  /** Minimum level logged; default 'info'. */
  level?: Level | 'silent'
  /** Also append JSON lines to this file (its directory is created). */
  file?: string
  /** Human-readable lines on stdout instead of JSON (development). File and memory stay JSON. */
  pretty?: boolean
  /** Keep the last N lines in memory for `getRecentLogs()` / `module-ingest logs`; 0 disables. Default 1000. */
  memoryLines?: number
  /** Write to stdout; default true. */
  stdout?: boolean
  /** An extra destination (tests, embedding). */
  stream?: DestinationStream
  /** Static fields on every line. */
  base?: Record<string, unknown>
  /** Synchronous writes to stdout/file; default true (nothing is lost on a crash or process.exit). */
  sync?: boolean
}

// On the root logger; children inherit it through their prototype, so any child can reach the ring.
const kRing = Symbol('mi.telemetry.ring')
const kDest = Symbol('mi.telemetry.dest')

type Internals = { [kRing]?: MemoryLogRing; [kDest]?: DestinationStream & { lastLevel?: number } }

/**
 * Create the process logger. Every destination receives lines at the logger's level, through
 * pino.multistream, so the per-stream levels are all the lowest one and filtering happens once,
 * in the logger itself.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info'
  const sync = options.sync ?? true
  const streams: StreamEntry[] = []
  if (options.stdout !== false) {
    const out = pino.destination({ dest: 1, sync })
    streams.push({ level: 'trace', stream: options.pretty ? prettyStream(out) : out })
  }
  if (options.file) {
    mkdirSync(dirname(options.file), { recursive: true })
    streams.push({ level: 'trace', stream: pino.destination({ dest: options.file, sync, mkdir: true }) })
  }
  const memoryLines = options.memoryLines ?? 1000
  const ring = memoryLines > 0 ? new MemoryLogRing(memoryLines) : undefined
  if (ring) streams.push({ level: 'trace', stream: ring })
  if (options.stream) streams.push({ level: 'trace', stream: options.stream })

  const dest = pino.multistream(streams)
  const logger = pino({ level, base: options.base ?? { pid: process.pid } }, dest) as Logger & Internals
  logger[kRing] = ring
  logger[kDest] = dest as Internals[typeof kDest]
  return logger
}

/** The last `n` JSON lines the logger (or its root) wrote, oldest first; [] without a memory ring. */
export function getRecentLogs(logger: Logger, n?: number): string[] {
  return (logger as Logger & Internals)[kRing]?.recent(n) ?? []
}

/**
 * Write an already-serialised line (from a worker thread) to the logger's destinations, as if the
 * logger had produced it at `level`. Returns false when the logger was not made by createLogger.
 */
export function writeRawLine(logger: Logger, level: number, line: string): boolean {
  const dest = (logger as Logger & Internals)[kDest]
  if (!dest) return false
  if (level < logger.levelVal) return true
  // multistream picks destinations by `lastLevel`, which pino sets before each write; a relay sets
  // it too (see pino lib/multistream.js, "a source may relay").
  dest.lastLevel = level
  dest.write(line.endsWith('\n') ? line : `${line}\n`)
  return true
}
