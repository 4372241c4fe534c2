import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { encodeBody, openReader, recordToJson, type StoredRecord } from '@module-ingest/log'
import { Command } from 'commander'
import { type ConfigFlags, configFromFlags, configOptions, parseRelative, usageError } from '../common.ts'
import { MI_ERR_CLI_NOT_FOUND } from '../errors.ts'

/** --from: an LSN, an ISO date-time, or a relative time like -5m. */
export function parseFrom(text: string, nowMs = Date.now()): { fromLsn: number } | { fromTimeUs: number } {
  if (/^\d+$/.test(text)) return { fromLsn: Number(text) }
  const rel = parseRelative(text)
  if (rel !== undefined) return { fromTimeUs: Math.round((nowMs - rel) * 1000) }
  const ms = Date.parse(text)
  if (!Number.isNaN(ms)) return { fromTimeUs: ms * 1000 }
  throw usageError(`--from expects an LSN, an ISO date-time or a relative time like -5m, got "${text}"`)
}

interface TailOptions extends ConfigFlags {
  stream?: string[]
  from?: string
  follow?: boolean
  format: string
}

export function tailCommand(): Command {
  return configOptions(new Command('tail'))
    .description('print records from the log (reads <dataDir>/log directly; the server need not run)')
    .option(
      '-s, --stream <name>',
      'only this stream; repeatable (default: all)',
      (v: string, p: string[] = []) => [...p, v],
    )
    .option(
      '--from <lsn|time>',
      'start at an LSN, an ISO date-time, or relative (-5m, -1h); default: the start',
    )
    .option('-f, --follow', 'keep waiting for new records')
    .option('--format <format>', 'text or json', 'text')
    .action(async (o: TailOptions) => {
      if (o.format !== 'text' && o.format !== 'json') throw usageError('--format expects text or json')
      const config = configFromFlags(o)
      const from = o.from ? parseFrom(o.from) : { fromLsn: 1 }
      const logDir = join(config.dataDir, 'log')
      if (!existsSync(logDir)) {
        const why = existsSync(config.dataDir)
          ? 'no server has written a log in this data directory yet'
          : 'check --data-dir / dataDir'
        throw new MI_ERR_CLI_NOT_FOUND('log directory', logDir, why)
      }
      const reader = await openReader(logDir)
      const cursor = reader.cursor({ ...from, ...(o.stream ? { streams: o.stream } : {}) })
      const abort = new AbortController()
      const stop = () => abort.abort()
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      try {
        while (!abort.signal.aborted) {
          const records = await cursor.read({ maxRecords: 1000 })
          for (const r of records) process.stdout.write(formatRecord(r, o.format))
          if (records.length) continue
          if (!o.follow) break
          await cursor.waitForData({ signal: abort.signal, timeoutMs: 1000 }).catch(() => {})
        }
      } finally {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
        await reader.close()
      }
    })
}

export function formatRecord(r: StoredRecord, format: string): string {
  if (format === 'json') return `${JSON.stringify(recordToJson(r, 'auto'))}\n`
  const b = encodeBody(r.body, 'auto')
  const time = new Date(Math.floor(r.ts / 1000)).toISOString()
  return `${r.lsn}\t${time}\t${r.stream}\t${r.module}${r.core ? `/${r.core}` : ''}\t${b.encoding === 'base64' ? `base64:${b.body}` : b.body}\n`
}
