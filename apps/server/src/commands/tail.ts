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
  fromTime?: string
  follow?: boolean
  format: string
  json?: boolean
  limit?: string
}

/** The last `n` records (of the chosen streams) as a ring, for `-n` without a start position. */
class LastN {
  #buf: StoredRecord[] = []
  #n: number
  constructor(n: number) {
    this.#n = n
  }
  push(r: StoredRecord): void {
    this.#buf.push(r)
    if (this.#buf.length > this.#n) this.#buf.shift()
  }
  take(): StoredRecord[] {
    const out = this.#buf
    this.#buf = []
    return out
  }
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
    .option('--from-time <time>', 'start at a receive time: ISO date-time or relative (-5m, -1h)')
    .option(
      '-n, --limit <n>',
      'at most n records: the last n (like tail(1)), or the first n after --from/--from-time',
    )
    .option('-f, --follow', 'keep waiting for new records')
    .option('--format <format>', 'text or json', 'text')
    .option('--json', 'same as --format json: one JSON object per line')
    .action(async (o: TailOptions) => {
      if (o.json) o.format = 'json'
      if (o.format !== 'text' && o.format !== 'json') throw usageError('--format expects text or json')
      if (o.from !== undefined && o.fromTime !== undefined)
        throw usageError('--from and --from-time exclude each other')
      let limit = Number.POSITIVE_INFINITY
      if (o.limit !== undefined) {
        limit = Number(o.limit)
        if (!Number.isSafeInteger(limit) || limit < 1)
          throw usageError('-n/--limit expects a positive integer')
      }
      let from: { fromLsn: number } | { fromTimeUs: number } = { fromLsn: 1 }
      if (o.from) from = parseFrom(o.from)
      else if (o.fromTime) {
        from = parseFrom(o.fromTime)
        if ('fromLsn' in from)
          throw usageError(`--from-time expects a time, got "${o.fromTime}" (an LSN: use --from)`)
      }
      const config = configFromFlags(o)
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
      // -n without a start: the last n records up to the durable end at start, then (with
      // --follow) everything new. With a start: the first n from there.
      const lastN = o.limit !== undefined && o.from === undefined && o.fromTime === undefined
      const ring = lastN ? new LastN(limit) : undefined
      let printed = 0
      const out = (r: StoredRecord): boolean => {
        process.stdout.write(formatRecord(r, o.format))
        return ++printed < limit || lastN
      }
      try {
        let backlog = ring !== undefined
        while (!abort.signal.aborted) {
          const records = await cursor.read({ maxRecords: 1000 })
          if (backlog) {
            for (const r of records) ring!.push(r)
            if (records.length) continue
            backlog = false
            for (const r of ring!.take()) out(r)
          } else {
            let more = true
            for (const r of records) {
              more = out(r)
              if (!more) break
            }
            if (!more) break
            if (records.length) continue
          }
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

/** ISO time of a µs ts; past Date's range (a u64 the producer sent) the µs number itself. */
function isoTime(ts: number | bigint): string {
  const ms = Math.floor(Number(ts) / 1000)
  return ms <= 8.64e15 ? new Date(ms).toISOString() : `${ts}µs`
}

export function formatRecord(r: StoredRecord, format: string): string {
  if (format === 'json') return `${JSON.stringify(recordToJson(r, 'auto'))}\n`
  const b = encodeBody(r.body, 'auto')
  const time = isoTime(r.ts)
  return `${r.lsn}\t${time}\t${r.stream}\t${r.module}${r.core ? `/${r.core}` : ''}\t${b.encoding === 'base64' ? `base64:${b.body}` : b.body}\n`
}
