import { parseArgs } from 'node:util'
import { type BodyFormat, recordToJson } from '@module-ingest/subscriber-sdk'
import { MI_ERR_DISK_CLI_ARGS } from './errors.ts'
import { readArchive } from './reader.ts'

export const ARCHIVE_READ_USAGE = `Usage: module-ingest archive read --dir <archive dir> [options]

Print archived records as NDJSON, oldest first (by lsn across streams).

Options:
  --dir <path>        archive root (the disk subscriber's options.dir)     required
  --stream <name>     only this stream
  --from <time>       rts ≥ time (ISO 8601, e.g. 2026-11-22T09:00Z)
  --to <time>         rts < time
  --from-lsn <n>      lsn ≥ n
  --to-lsn <n>        lsn ≤ n
  --limit <n>         stop after n records
  --body <enc>        utf8 (default) | base64 | hex
`

export interface ArchiveReadIo {
  /** Where the NDJSON goes; process.stdout by default. */
  write?: (line: string) => void | Promise<void>
}

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 0)
    throw new MI_ERR_DISK_CLI_ARGS(`--${name} must be a non-negative integer`)
  return n
}

function time(name: string, v: string | undefined): string | undefined {
  if (v !== undefined && Number.isNaN(Date.parse(v))) {
    throw new MI_ERR_DISK_CLI_ARGS(`--${name} must be an ISO 8601 time, got ${v}`)
  }
  return v
}

/**
 * `module-ingest archive read …`: argv is what follows `archive read`. Resolves with the number
 * of records printed; throws MI_ERR_DISK_CLI_ARGS (print ARCHIVE_READ_USAGE, exit 2) on bad args.
 */
export async function archiveReadCommand(argv: string[], io: ArchiveReadIo = {}): Promise<number> {
  let values: Record<string, string | boolean | undefined>
  try {
    ;({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        dir: { type: 'string' },
        stream: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        'from-lsn': { type: 'string' },
        'to-lsn': { type: 'string' },
        limit: { type: 'string' },
        body: { type: 'string', default: 'utf8' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (err) {
    throw new MI_ERR_DISK_CLI_ARGS((err as Error).message, { cause: err })
  }
  const write =
    io.write ??
    ((line: string) =>
      process.stdout.write(line) ? undefined : new Promise<void>((r) => process.stdout.once('drain', r)))
  if (values.help) {
    await write(ARCHIVE_READ_USAGE)
    return 0
  }
  const str = (k: string) => values[k] as string | undefined
  if (!str('dir')) throw new MI_ERR_DISK_CLI_ARGS('--dir is required')
  const kFormats: Record<string, BodyFormat> = { utf8: 'text', base64: 'base64', hex: 'hex' }
  const format = kFormats[str('body')!]
  if (!format) throw new MI_ERR_DISK_CLI_ARGS('--body must be utf8, base64 or hex')
  const limit = int('limit', str('limit')) ?? Number.POSITIVE_INFINITY
  let n = 0
  if (limit === 0) return 0
  for await (const r of readArchive({
    dir: str('dir')!,
    stream: str('stream'),
    from: time('from', str('from')),
    to: time('to', str('to')),
    fromLsn: int('from-lsn', str('from-lsn')),
    toLsn: int('to-lsn', str('to-lsn')),
  })) {
    await write(`${JSON.stringify(recordToJson(r, format))}\n`)
    if (++n >= limit) break
  }
  return n
}
