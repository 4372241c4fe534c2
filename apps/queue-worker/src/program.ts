import { appendFileSync, existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { errorLine } from '@module-ingest/errors'
import { openReader } from '@module-ingest/log'
// The server's table of built-in subscriber names, so `--use disk` means what it means there.
import { builtinPlugins } from '@module-ingest/server/plugins'
import {
  type HostEmit,
  type LogPosition,
  type LogReader,
  type SubscriberStats,
  startSubscribers,
} from '@module-ingest/subscriber-runtime'
import { Progress } from '@module-ingest/telemetry/progress'
import { Command, CommanderError, Option } from 'commander'
import { pino } from 'pino'
import { nameFromUse, parseOptions, parsePosition, positiveInt } from './args.ts'

export const kExit = { ok: 0, error: 1, usage: 2, interrupted: 130 } as const

interface Flags {
  dataDir: string
  use: string
  options?: string
  name?: string
  group?: string
  from?: string
  to?: string
  streams?: string[]
  dryRun?: boolean
  follow?: boolean
  emits?: string
  concurrency?: number
  batchRecords?: number
  batchBytes?: number
  rateLimit?: number
  maxAttempts?: number
  timeoutMs?: number
  logLevel: string
  progress: boolean
  json?: boolean
  pluginPath?: string[]
}

const kVersion = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version

export function buildProgram(): Command {
  return new Command('module-ingest-queue-worker')
    .version(`module-ingest-queue-worker ${kVersion} (node ${process.version})`, '-V, --version')
    .description(
      'Run a subscriber plugin over a module-ingest data directory with its own consumer group: while the ' +
        'server runs (committed data only) or offline. For recovery, backfills and batch jobs.',
    )
    .requiredOption(
      '--data-dir <dir>',
      "the server's data directory (its log is <dir>/log), or a log directory",
    )
    .requiredOption('--use <plugin>', "plugin: 'disk', 'nats', an npm package name or a file path")
    .option('--options <json|@file>', 'plugin options as JSON, or @path to a JSON file')
    .option('--name <name>', 'subscriber instance name (default: from --use)')
    .option('--group <name>', 'consumer group (default: queue-worker.<name>)')
    .option('--from <lsn|time>', 'start here instead of the group offset: an LSN, or a date (receive time)')
    .option('--to <lsn|time>', 'stop after this LSN or receive time (inclusive)')
    .option('--streams <glob...>', "stream globs, '*' matches any run of characters", ['*'])
    .option('--dry-run', 'count what would be delivered; no plugin calls, no offsets committed')
    .option('--follow', 'keep going at the end of the log (until --to or SIGINT)')
    .option(
      '--emits <file>',
      'append derived records and dead letters here as NDJSON (default: <group>.emits.ndjson)',
    )
    .addOption(new Option('--concurrency <n>', 'batches in flight').argParser(positiveInt('--concurrency')))
    .addOption(
      new Option('--batch-records <n>', 'records per batch').argParser(positiveInt('--batch-records')),
    )
    .addOption(
      new Option('--batch-bytes <n>', 'bytes per batch (bodies and names)').argParser(
        positiveInt('--batch-bytes'),
      ),
    )
    .addOption(
      new Option(
        '--rate-limit <bytesPerSec>',
        'deliver at most this many body bytes per second while the log is growing (a live server): a backfill that leaves the host to ingest',
      ).argParser(positiveInt('--rate-limit')),
    )
    .addOption(
      new Option('--max-attempts <n>', 'deliveries before dead-lettering').argParser(
        positiveInt('--max-attempts'),
      ),
    )
    .addOption(
      new Option('--timeout-ms <n>', 'per-batch handle() limit').argParser(positiveInt('--timeout-ms')),
    )
    .addOption(
      new Option('--log-level <level>', 'log level (logs go to stderr)')
        .choices(['trace', 'debug', 'info', 'warn', 'error', 'silent'])
        .default('warn'),
    )
    .option('--no-progress', 'no progress bar')
    .option('--json', 'print the summary as one JSON line')
    .option(
      '--plugin-path <dir...>',
      'plugin directories for npm plugin names (<dir>/node_modules; also $MI_PLUGIN_PATH)',
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .action(async (flags: Flags) => {
      process.exitCode = await runJob(flags)
    })
}

/** Run the CLI; resolves to the process exit code. */
export async function run(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv)
    return typeof process.exitCode === 'number' ? process.exitCode : kExit.ok
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? kExit.ok : kExit.usage
    const e = err as Error & { code?: string }
    process.stderr.write(`${errorLine(e)}\n`)
    return e.code === 'MI_ERR_QUEUE_WORKER_ARG_INVALID' ? kExit.usage : kExit.error
  }
}

/** The server's data directory keeps its log in `log/`; a log directory given directly works too. */
export function resolveLogDir(dir: string): string {
  const nested = join(dir, 'log')
  return existsSync(nested) ? nested : dir
}

async function readDurableLsn(logDir: string): Promise<{ reader: LogReader; durable: number }> {
  const reader = await openReader(logDir)
  return { reader, durable: reader.durableLsn() }
}

async function runJob(f: Flags): Promise<number> {
  const name = f.name ?? nameFromUse(f.use)
  const group = f.group ?? `queue-worker.${name}`
  const from = parsePosition('--from', f.from)
  const to = parsePosition('--to', f.to)
  const options = parseOptions(f.options)
  const logger = pino(
    { level: f.logLevel, base: { pid: process.pid } },
    pino.destination({ dest: 2, sync: true }),
  )

  // One reader for the whole job: the runtime uses it too (no second set of fds).
  const logDir = resolveLogDir(f.dataDir)
  const { reader, durable } = await readDurableLsn(logDir)
  // A finite run ends at the durable tail seen now (or earlier --to); --follow keeps going.
  let until: LogPosition | undefined = to ? { ...to } : undefined
  if (!f.follow) {
    until ??= {}
    until.lsn = Math.min(until.lsn ?? durable, durable)
  }

  const emitsFile = resolve(f.emits ?? `${group}.emits.ndjson`)
  const emitted = { derived: 0, deadLetters: 0 }
  // The server owns the log's single writer: derived records and dead letters go to a file that an
  // operator can replay with the client SDK.
  const emit: HostEmit = async (records) => {
    let text = ''
    for (const r of records) {
      if (r.stream.startsWith('dlq.')) emitted.deadLetters++
      else emitted.derived++
      text += `${JSON.stringify({ stream: r.stream, body: Buffer.from(r.body).toString('base64') })}\n`
    }
    appendFileSync(emitsFile, text)
  }

  const started = performance.now()
  const rt = await startSubscribers({
    dataDir: logDir,
    reader,
    logger,
    emit,
    dryRun: f.dryRun === true,
    baseDir: process.cwd(),
    plugins: builtinPlugins(),
    ...(f.pluginPath ? { pluginPaths: f.pluginPath } : {}),
    subscribers: [
      {
        name,
        use: f.use,
        options,
        group,
        streams: f.streams ?? ['*'],
        ...(from ? { from } : {}),
        ...(until ? { until } : {}),
        ...(f.concurrency ? { concurrency: f.concurrency } : {}),
        ...(f.maxAttempts ? { maxAttempts: f.maxAttempts } : {}),
        ...(f.timeoutMs ? { timeoutMs: f.timeoutMs } : {}),
        ...(f.batchRecords || f.batchBytes
          ? {
              batch: {
                ...(f.batchRecords ? { maxRecords: f.batchRecords } : {}),
                ...(f.batchBytes ? { maxBytes: f.batchBytes } : {}),
              },
            }
          : {}),
        ...(f.rateLimit ? { rateLimit: { bytesPerSec: f.rateLimit } } : {}),
      },
    ],
  })
  const startLsn = rt.stats()[0]!.ackedLsn
  const total = until?.lsn !== undefined ? Math.max(0, until.lsn - startLsn + 1) : 0
  const bar = new Progress({
    label: 'queue-worker',
    total,
    unit: 'LSNs',
    // A bar needs an end: not with --follow or an open-ended run.
    enabled: f.progress && !f.follow && total > 0,
  })

  let interrupted = false
  const stop = () => {
    interrupted = true
    void rt.close()
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  const done = rt.finished().then(() => true)
  for (;;) {
    const s = rt.stats()[0]!
    bar.update(Math.min(s.ackedLsn - startLsn, total), `${s.delivered} delivered`)
    const finished = await Promise.race([done, sleep(200).then(() => false)])
    if (finished) break
  }
  await rt.close()
  process.off('SIGINT', stop)
  process.off('SIGTERM', stop)
  const s = rt.stats()[0]!
  bar.update(Math.min(s.ackedLsn - startLsn, total), `${s.delivered} delivered`)
  bar.stop()
  await reader.close?.()
  printSummary(f, s, {
    startLsn,
    until,
    elapsedMs: performance.now() - started,
    emitsFile,
    emitted,
    interrupted,
  })
  return interrupted ? kExit.interrupted : kExit.ok
}

function printSummary(
  f: Flags,
  s: SubscriberStats,
  x: {
    startLsn: number
    until: LogPosition | undefined
    elapsedMs: number
    emitsFile: string
    emitted: { derived: number; deadLetters: number }
    interrupted: boolean
  },
): void {
  const seconds = x.elapsedMs / 1000
  const summary = {
    subscriber: s.name,
    group: s.group,
    dryRun: f.dryRun === true,
    fromLsn: x.startLsn,
    toLsn: x.until?.lsn ?? null,
    nextLsn: f.dryRun ? null : s.nextLsn,
    records: s.delivered,
    bytes: s.deliveredBytes,
    batches: s.deliveredBatches,
    retries: s.retries,
    deadLettered: s.deadLettered,
    emitted: x.emitted.derived,
    restarts: s.restarts,
    lastError: s.lastError,
    elapsed_s: Number(seconds.toFixed(3)),
    records_per_s: seconds > 0 ? Math.round(s.delivered / seconds) : 0,
    emitsFile: x.emitted.derived + x.emitted.deadLetters > 0 ? x.emitsFile : null,
    interrupted: x.interrupted,
  }
  if (f.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`)
    return
  }
  const verb = f.dryRun ? 'would deliver' : 'delivered'
  const lines = [
    `${s.name} (group ${s.group})${x.interrupted ? ' — interrupted' : ''}`,
    `  range      LSN ${x.startLsn} → ${x.until?.lsn ?? 'tail'}${f.dryRun ? '' : `, committed next ${s.nextLsn}`}`,
    `  ${verb.padEnd(10)} ${s.delivered} records (${s.deliveredBytes} bytes) in ${s.deliveredBatches} batches`,
    `  retries    ${s.retries}   dead-lettered ${s.deadLettered}   restarts ${s.restarts}   emitted ${x.emitted.derived}`,
    `  elapsed    ${seconds.toFixed(2)} s (${summary.records_per_s} records/s)`,
  ]
  if (summary.emitsFile) lines.push(`  emits      ${summary.emitsFile}`)
  if (s.lastError) lines.push(`  last error [${s.lastError.code}] ${s.lastError.message}`)
  process.stdout.write(`${lines.join('\n')}\n`)
}
