import { type BodyFormat, kBodyFormats, recordToJson, type StoredRecord } from '@module-ingest/log'
import { Command } from 'commander'
import { collect, type DirFlags, dirOptions, LineOut, resolveLogDir } from '../common.ts'
import { MI_ERR_RECOVER_USAGE } from '../errors.ts'
import { type FilterFlags, selection } from '../filters.ts'
import { reportGaps, scanRecords } from '../records.ts'

/** One JSON line per record (the log's shared JSON shape). */
export function recordJson(r: StoredRecord, format: BodyFormat): string {
  return JSON.stringify(recordToJson(r, format))
}

/** --stream/--module/--from/--to/--limit, shared with export. */
export function filterOptions(cmd: Command): Command {
  return cmd
    .option('-s, --stream <glob>', 'only streams matching this glob (* ? [..]); repeatable', collect)
    .option('-m, --module <glob>', 'only records from modules matching this glob; repeatable', collect)
    .option('--from <lsn|time>', 'start at an LSN, an ISO date-time or a relative time (-5m, -2h)')
    .option('--to <lsn|time>', 'stop after this LSN or receive time (inclusive)')
    .option('-n, --limit <count>', 'at most this many records')
}

export function dumpCommand(): Command {
  return filterOptions(dirOptions(new Command('dump')))
    .description('print committed records as JSON lines (safe while the server runs)')
    .option(
      '--body <format>',
      `body encoding: ${kBodyFormats.join('|')} (auto: text when printable UTF-8)`,
      'auto',
    )
    .action(async (o: DirFlags & FilterFlags & { body: string }) => {
      if (!(kBodyFormats as readonly string[]).includes(o.body))
        throw new MI_ERR_RECOVER_USAGE(`--body expects ${kBodyFormats.join(', ')}; got "${o.body}"`)
      const dir = resolveLogDir(o)
      const sel = selection(o)
      const out = new LineOut()
      const scan = await scanRecords(dir, sel)
      for await (const r of scan.records) {
        await out.line(recordJson(r, o.body as BodyFormat))
        if (out.closed) break
      }
      process.exitCode = reportGaps(scan)
    })
}
