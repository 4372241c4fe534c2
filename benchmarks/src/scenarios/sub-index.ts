/**
 * The `index` subscriber (packages/subscriber-index, SQLite) applying records while ingest runs,
 * and the query API answering over HTTP at the same time: JSON records with two numeric fields
 * (`temp`, `load`) whose producer timestamps are spread over the last hour, offered open loop at
 * 100,000 and at 200,000 records/s (the issue's goal; 20,000 alone with --quick) as BATCH frames
 * over 8 connections, to module-ingest (flush `always`). Each rate gets its pair of rows:
 *
 * - `ours`: ingest alone, the baseline of this rate;
 * - `ours+index`: records and both fields indexed (1 s and 1 min rollups). `applied_per_s` is
 *   records applied inside the measurement window; lag and catch-up as for every subscriber row.
 *   Meanwhile one client (a worker thread of its own, index-query-client.ts) asks, 50 times a
 *   second (paced: back to back, a faster server meant more queries competing with what is
 *   measured), for a 1-hour range of one series at 1 s step
 *   (`/index/v1/range?module=bench-0&field=temp&from=now-1h&to=now&step=1s&agg=avg&format=values`,
 *   ~3,600 buckets as a dashboard asks for them: one number each, ~60 KB of JSON over HTTP, from
 *   the reads listener; `MI_BENCH_INDEX_FORMAT=points` asks for `[t, v]` pairs, ~130 KB): the
 *   query latency p50/p99 (to the reply's last byte) of those started inside the window, how
 *   many buckets the last one returned, and its size (`query_bytes`).
 *   The rows of this scenario measure for 11 s (--measure-ms if longer): ≥ 500 queries, so the
 *   p99 is the 6th-slowest, not the slowest of 80. Beside it, the server's side of the same
 *   requests (`reads_request_*`: arrival to reply written, in the reads thread; `_cpu`: that
 *   thread's CPU for them, read on one request in 16 and tick-quantized: only its mean means
 *   something); the rest of `query_*` is the client (a thread of the harness at nice -5, the
 *   reads thread's default, above the load generators: see queryNice; `query_head_*` is when the
 *   reply's head arrived, `query_client_cpu_ms` and `query_client_wait_ms` its thread's CPU and
 *   run-queue wait per query), the loopback and the reads thread's event-loop wait
 *   (`reads_loop_delay_*`) before a request's handler runs.
 *
 * On a 2-core machine the load generators share the cores with the server: every row notes their
 * CPU seconds in the window (`load_cpu_s`) beside the server's (`cpu_s`, ingest and index), and
 * `cpu_us_per_record`: CPU µs per record offered, the server's by thread group (sub-common.ts
 * cpuPerRecord), the load generators' and the query client's; `run_queue_wait_ms_per_s`: how long
 * each server thread group waited for a core.
 *
 * Not part of the test suite (benchmarks/test/subscribers.test.ts only checks that it starts).
 * Command: node benchmarks/src/run.ts index
 * Prerequisites: none (node:sqlite is built into Node 24).
 */
import { performance } from 'node:perf_hooks'
import { Worker } from 'node:worker_threads'
import type { BodySpec } from '../load/bodies.ts'
import { type MeasureWindow, measureTarget, type TargetRun, type UnderTest } from '../measure.ts'
import type { Row, RunContext, Scenario } from '../scenario.ts'
import type { OursServer, SubscriberEntry } from '../targets/ours.ts'
import {
  addLoadCpu,
  againstIngestOnly,
  catchUpMs,
  cpuPerRecord,
  ingestLoad,
  oursOf,
  percentilesUs,
  threadDelays,
  warmSubscriber,
  watchSubscriber,
} from './sub-common.ts'

const kBody: BodySpec = { kind: 'json', fields: ['temp', 'load'] }
const kHourMs = 3_600_000
/** One range query every 20 ms (50/s), as dashboards of 50 panels refreshing every second. */
const kQueryEveryMs = 20
/** The rows' measurement window: ≥ 500 queries at 50/s after the 1 s warm-up. */
const kMeasureMs = 11_000

/** MI_BENCH_INDEX_NICE=<0..19>: the index entry's `nice` (default: the plugin's), for an A/B. */
function indexNice(): { nice?: number } {
  const v = process.env.MI_BENCH_INDEX_NICE
  return v === undefined || v === '' ? {} : { nice: Number(v) }
}

/** MI_BENCH_INDEX_RATES=200000[,…]: the offered rates (default 100,000 and 200,000 records/s). */
function indexRates(): number[] {
  const v = process.env.MI_BENCH_INDEX_RATES
  return v ? v.split(',').map(Number) : [100_000, 200_000]
}

/**
 * The query client thread's nice value: -5, the server's reads thread's default, unless
 * MI_BENCH_QUERY_NICE=<n> says otherwise (0: the harness's own, as before). A dashboard asks from
 * another host; here the client shares 2 cores with the load generators, which stand in for
 * producers that are elsewhere too, and at their priority a reply that had arrived waited for a
 * core before the client could read it: alternated at 200,000 records/s (load average 12-15),
 * client p99 117 and 41 ms at 0 against server-side p99 12 and 16 ms; at -5, 29 and 18 ms against
 * 25 and 14 ms. The row notes the value as `query_client_nice`.
 */
function queryNice(): { nice: number } {
  const v = process.env.MI_BENCH_QUERY_NICE
  return { nice: v === undefined || v === '' ? -5 : Number(v) }
}

/** The scenario's `index` entry: records and two fields of stream `bench`, in the data dir. */
export const kIndexEntry: SubscriberEntry = {
  name: 'index',
  use: 'index',
  streams: ['bench'],
  batch: { maxRecords: 5000, maxWaitMs: 50 },
  options: { path: 'index.sqlite', fields: ['temp', 'load'] },
  ...indexNice(),
}

/** The query the scenario times: one series, the last hour, 1 s step. */
export function rangeQueryUrl(server: OursServer): string {
  return `http://127.0.0.1:${server.readApi}/index/v1/range?module=bench-0&field=temp&from=now-1h&to=now&step=1s&agg=avg&limit=4000&format=${queryFormat()}`
}

/**
 * The reply format asked for: `values` (one number per bucket, what a dashboard plots), or with
 * MI_BENCH_INDEX_FORMAT=points the API's default `[t, v]` pairs, for an A/B.
 */
function queryFormat(): 'points' | 'values' {
  return process.env.MI_BENCH_INDEX_FORMAT === 'points' ? 'points' : 'values'
}

/**
 * Range queries, paced, until stopped (index-query-client.ts, in a worker thread); latencies (to
 * the reply's last byte) of those started inside the window.
 */
function queryLoop(server: OursServer): (w: MeasureWindow) => Promise<Record<string, number | string>> {
  const client = new Worker(new URL('./index-query-client.ts', import.meta.url), {
    name: 'bench-query',
    workerData: {
      url: rangeQueryUrl(server),
      token: server.operatorToken,
      everyMs: kQueryEveryMs,
      ...queryNice(),
    },
  })
  const result = new Promise<ClientResult>((resolve, reject) => {
    client.once('message', resolve)
    client.once('error', reject)
  })
  return async (w) => {
    client.postMessage('stop')
    const r = await result
    await client.terminate()
    // The client's epoch ms onto this thread's performance.now() clock, the window's.
    const inWindow = r.done.filter((q) => {
      const t = q.t - performance.timeOrigin
      return t >= w.startMs && t < w.endMs
    })
    const p = percentilesUs(inWindow.map((q) => q.ms))
    const head = percentilesUs(inWindow.map((q) => q.ttfbMs))
    // The client thread's CPU and run-queue wait from the first query in the window to the last
    // one's start, per query.
    const n = inWindow.length - 1
    const first = inWindow[0]
    const last = inWindow.at(-1)
    const cpuS = n > 0 ? (last!.runNs - first!.runNs) / 1e9 : 0
    const waitS = n > 0 ? (last!.waitNs - first!.waitNs) / 1e9 : 0
    return {
      queries: inWindow.length,
      query_p50_ms: p.p50_us / 1000,
      query_p99_ms: p.p99_us / 1000,
      query_head_p50_ms: head.p50_us / 1000,
      query_head_p99_ms: head.p99_us / 1000,
      query_client_cpu_ms: n > 0 ? +((cpuS * 1000) / n).toFixed(3) : 0,
      query_client_wait_ms: n > 0 ? +((waitS * 1000) / n).toFixed(3) : 0,
      query_client_cpu_s: +cpuS.toFixed(3),
      query_client_nice: r.nice,
      query_buckets: r.buckets,
      query_format: queryFormat(),
      query_bytes: r.bytes,
      ...(r.failures ? { query_failures: r.failures, query_error: r.firstFailure } : {}),
    }
  }
}

interface ClientResult {
  done: Array<{ t: number; ms: number; ttfbMs: number; runNs: number; waitNs: number }>
  nice: number
  buckets: number
  bytes: number
  failures: number
  firstFailure: string
}

export const indexScenario: Scenario = {
  name: 'index',
  group: 'subscriber',
  description: 'index subscriber: apply rate and 1 h @ 1 s range-query p50/p99 while ingesting',
  quick: false,
  full: true,
  async run(ctx: RunContext): Promise<Row[]> {
    if (!ctx.targets.has('ours')) return []
    const rows: Row[] = []
    for (const rate of ctx.quick ? [20_000] : indexRates()) {
      const load: TargetRun = {
        ...ingestLoad(rate, 0, kBody),
        tsSpreadMs: kHourMs,
        loadCpu: true,
        ...(ctx.quick ? {} : { measureMs: Math.max(ctx.measureMs, kMeasureMs) }),
      }
      ctx.log(`  ours at ${rate} records/s …`)
      const base = await measureTarget(ctx, this.name, 'ours', {
        ...load,
        during: (ut) => cpuPerRecord(oursOf(ut), rate),
      })
      ctx.log(`  ours+index at ${rate} records/s …`)
      const row = await measureTarget(ctx, this.name, 'ours', {
        ...load,
        http: true,
        subscribers: [kIndexEntry],
        prepare: (ut) => warmSubscriber(oursOf(ut), 'index', 'bench', kBody, 0),
        during(ut: UnderTest) {
          const server = oursOf(ut)
          const stopWatch = watchSubscriber(server, 'index', {
            catchUpMs: catchUpMs(ctx),
            rateKey: 'applied_per_s',
          })
          const stopQueries = queryLoop(server)
          const delay = threadDelays(server)
          const cpu = cpuPerRecord(server, rate)
          return async (w) => {
            const c = await cpu(w)
            // Queries stop with the load: the catch-up that follows is the index alone.
            const q = await stopQueries(w)
            const d = await (await delay)()
            return { ...(await stopWatch(w)), ...q, ...d, ...c }
          }
        },
      })
      row.target = 'ours+index'
      const measureMs = load.measureMs ?? ctx.measureMs
      addLoadCpu(base, rate, measureMs)
      addLoadCpu(row, rate, measureMs)
      // The query client's thread, beside them.
      if (typeof row.extra.query_client_cpu_s === 'number' && typeof row.extra.cpu_us_per_record === 'string')
        row.extra.cpu_us_per_record += `; query client ${((row.extra.query_client_cpu_s * 1e6) / ((rate * measureMs) / 1000)).toFixed(2)}`
      againstIngestOnly(row, base)
      rows.push(base, row)
    }
    return rows
  },
}
