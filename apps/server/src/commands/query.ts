/**
 * `module-ingest query ...`: the index subscriber's HTTP query API from the command line (tables,
 * or the API's JSON with --json), and `module-ingest index rebuild` (a fresh index from the log).
 */
import { join } from 'node:path'
import {
  type IndexConfigInput,
  kQueryEndpoints,
  kQueryParams,
  type QueryEndpoint,
  type QueryParam,
  rebuildIndex,
} from '@module-ingest/subscriber-index'
import { Command } from 'commander'
import { type ConfigFlags, configFromFlags, configOptions, readApiBase, usageError } from '../common.ts'

// The endpoints and their parameters are the index package's (one definition with its HTTP
// handler): one flag per parameter, passed on as given, checked by the server (a 400 exits 2).
const kWhat = Object.keys(kQueryEndpoints) as QueryEndpoint[]
type What = QueryEndpoint
const kParams = Object.keys(kQueryParams) as QueryParam[]

interface QueryFlags extends ConfigFlags, Partial<Record<QueryParam, string>> {
  url?: string
  token?: string
  all?: boolean
  maxPages: string
  json?: boolean
}

// Past Date's range (an index of a producer's u64 ts) the µs number is shown instead of throwing.
const iso = (us: number | null | undefined) =>
  typeof us !== 'number'
    ? '-'
    : Math.abs(us / 1000) <= 8.64e15
      ? new Date(Math.floor(us / 1000)).toISOString()
      : `${us}µs`

function table(rows: string[][]): string {
  const widths: number[] = []
  for (const r of rows) for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length)
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '))
    .join('\n')
}

type Reply = Record<string, unknown> & { next?: string }

/** One page of the reply as table rows (header first when `header`). */
export function formatQueryReply(what: What, reply: Reply, header: boolean): string[][] {
  const rows: string[][] = []
  if (what === 'status') {
    for (const [k, v] of Object.entries(reply)) rows.push([k, String(v)])
    return rows
  }
  if (what === 'series' || what === 'latest') {
    if (header) rows.push(['STREAM', 'MODULE', 'FIELD', 'TIME', 'VALUE'])
    const list = (reply.series ?? reply.latest) as Array<Record<string, unknown>>
    for (const s of list) {
      const l = (s.latest ?? s) as { ts: number | null; value: number | null }
      rows.push([String(s.stream), String(s.module), String(s.field), iso(l.ts), String(l.value ?? '-')])
    }
    return rows
  }
  if (what === 'range') {
    if (header) rows.push(['TIME', 'STREAM', 'MODULE', 'FIELD', 'VALUE'])
    const { fromUs, stepUs } = reply as { fromUs: number; stepUs: number }
    for (const s of reply.series as Array<{
      stream: string
      module: string
      field: string
      points?: Array<[number, number]>
      values?: Array<number | null>
    }>) {
      for (const [t, v] of s.points ?? []) rows.push([iso(t), s.stream, s.module, s.field, String(v)])
      // format=values: the i-th bucket starts at fromUs + i × stepUs; null is an empty bucket,
      // which `points` leaves out, so the table is the same either way.
      for (const [i, v] of (s.values ?? []).entries())
        if (v !== null) rows.push([iso(fromUs + i * stepUs), s.stream, s.module, s.field, String(v)])
    }
    return rows
  }
  if (header) rows.push(['TIME', 'LSN', 'STREAM', 'MODULE', 'BODY'])
  for (const r of reply.records as Array<Record<string, unknown>>)
    rows.push([
      iso(r.ts as number),
      String(r.lsn),
      String(r.stream),
      String(r.module),
      String(r.body ?? '(gone)'),
    ])
  return rows
}

export function queryCommand(): Command {
  const cmd = configOptions(new Command('query'))
    .description("query the index subscriber's API (series, latest values, ranges, records by time)")
    .argument('<what>', kWhat.join(' | '))
    .option(
      '--url <url>',
      'API base URL (default: http://<telemetry.reads.listen>, or <telemetry.metrics.listen> with reads: false)',
    )
    .option('--token <token>', 'operator token with a read:<stream> scope (default $MI_TOKEN)')
  for (const name of kParams) cmd.option(`--${name} ${kQueryParams[name].value}`, kQueryParams[name].help)
  return cmd
    .option('--all', 'follow next pages (up to --max-pages)')
    .option('--max-pages <n>', 'page limit for --all', '100')
    .option('--json', 'print the API reply (one JSON line per page)')
    .action(async (what: string, o: QueryFlags) => {
      if (!(kWhat as readonly string[]).includes(what))
        throw usageError(`query: unknown <what> "${what}" (expected ${kWhat.join(', ')})`)
      const token = o.token ?? process.env.MI_TOKEN
      if (!token) throw usageError('query: pass --token <operator token> or set MI_TOKEN')
      let base = o.url
      if (base === undefined) {
        base = readApiBase(configFromFlags(o))
        if (base === undefined)
          throw usageError(
            'query: telemetry.reads and telemetry.metrics are disabled in the config; pass --url',
          )
      }
      const maxPages = Number(o.maxPages)
      if (!Number.isInteger(maxPages) || maxPages < 1) throw usageError('--max-pages expects an integer ≥ 1')
      const params = new URLSearchParams()
      for (const k of kParams) {
        const v = o[k]
        if (v !== undefined) params.set(k, v)
      }
      for (let page = 0; page < maxPages; page++) {
        const url = new URL(`/index/v1/${what}?${params}`, base)
        const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
        const reply = (await res.json().catch(() => ({}))) as Reply & { error?: { message?: string } }
        if (!res.ok) {
          const err = new Error(`query: HTTP ${res.status}: ${reply.error?.message ?? res.statusText}`)
          throw res.status === 400 ? usageError(err.message) : err
        }
        if (o.json) process.stdout.write(`${JSON.stringify(reply)}\n`)
        else {
          const rows = formatQueryReply(what as What, reply, page === 0)
          if (rows.length > 0) process.stdout.write(`${table(rows)}\n`)
        }
        if (!o.all || reply.next === undefined) {
          if (!o.json && reply.next !== undefined)
            process.stderr.write(`more: --after ${reply.next} (or --all)\n`)
          return
        }
        // Range pages continue from a time, the others after a cursor.
        params.set(what === 'range' ? 'from' : 'after', reply.next)
      }
    })
}

interface IndexSubscriberEntry {
  name: string
  use: string
  streams?: string[]
  options?: unknown
}

export function indexCommand(): Command {
  const index = new Command('index').description('maintain the index subscriber')
  configOptions(index.command('rebuild'))
    .description("rebuild an index subscriber's file from the log (stop the server first)")
    .option('--name <subscriber>', 'which index subscriber (when the config has several)')
    .option('--force', 'rebuild although a server holds the log (restart it afterwards)')
    .action(async (o: ConfigFlags & { name?: string; force?: boolean }) => {
      const config = configFromFlags(o)
      const subs = (config.subscribers as IndexSubscriberEntry[]).filter(
        (s) => s.use === 'index' || s.use === '@module-ingest/subscriber-index',
      )
      const sub = o.name === undefined ? subs[0] : subs.find((s) => s.name === o.name)
      if (sub === undefined || (o.name === undefined && subs.length > 1))
        throw usageError(
          subs.length === 0
            ? 'index rebuild: the config has no subscriber with use: index'
            : `index rebuild: pass --name (one of ${subs.map((s) => s.name).join(', ')})`,
        )
      const started = performance.now()
      const r = await rebuildIndex({
        logDir: join(config.dataDir, 'log'),
        config: sub.options as IndexConfigInput,
        ...(sub.streams ? { streams: sub.streams } : {}),
        ...(o.force ? { force: true } : {}),
      })
      const s = ((performance.now() - started) / 1000).toFixed(1)
      process.stdout.write(
        `rebuilt ${r.path}: ${r.records} records, ${r.points} points, through lsn ${r.appliedLsn} in ${s} s\n`,
      )
    })
  return index
}
