/**
 * Index benchmark: apply rate, and range-query latency for a 1-hour range at 1 s step while a
 * writer thread keeps ingesting.
 *
 *   node bench/index.bench.ts [--records 200000] [--queries 200] [--json]
 *
 * 1. apply: `records` records (20 modules, JSON bodies with 2 numeric fields, one hour of producer
 *    time) in batches of 500, once with records + fields and once records only.
 * 2. query: a writer thread applies more records in a loop (the rate is reported) while the main
 *    thread runs `queries` range queries over one series (1 h, step 1 s, avg: 3,600 buckets from
 *    the 1 s rollups), directly (IndexReader) and over HTTP (the query handler on a loopback
 *    server, JSON included). Latency p50/p99 in ms.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { createIndexQueryHandler, IndexReader } from '../src/index.ts'
import { type IndexableRecord, IndexWriter } from '../src/writer.ts'

const T0 = Date.UTC(2026, 10, 22, 9, 0, 0) * 1000
const HOUR = 3_600_000_000
const enc = new TextEncoder()

function makeBatch(from: number, n: number, total: number): IndexableRecord[] {
  const out: IndexableRecord[] = []
  for (let i = from; i < from + n; i++) {
    out.push({
      lsn: i + 1,
      stream: 'telemetry.kiln',
      module: `kiln-${i % 20}`,
      core: '',
      ts: T0 + Math.floor((i * HOUR) / total),
      body: enc.encode(`{"temp":${(i * 37) % 1000},"load":${i % 13}}`),
    })
  }
  return out
}

/** Records per wall-clock second, and per CPU second of this thread (less sensitive to a loaded machine). */
function applyAll(path: string, total: number, fields: string[]): { wall: number; cpu: number } {
  const w = new IndexWriter(path, { fields })
  const start = performance.now()
  const cpu0 = process.threadCpuUsage()
  for (let i = 0; i < total; i += 500) w.apply(makeBatch(i, Math.min(500, total - i), total))
  const s = (performance.now() - start) / 1000
  const c = process.threadCpuUsage(cpu0)
  w.close()
  return { wall: Math.round(total / s), cpu: Math.round(total / ((c.user + c.system) / 1e6)) }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}

if (!isMainThread) {
  // Writer thread: keep applying records after the first hour until told to stop.
  const { path, from, total } = workerData as { path: string; from: number; total: number }
  const w = new IndexWriter(path, { fields: ['temp', 'load'] })
  let i = from
  let stop = false
  parentPort!.on('message', () => (stop = true))
  const started = performance.now()
  const loop = () => {
    for (let k = 0; k < 10 && !stop; k++) {
      w.apply(makeBatch(i, 500, total))
      i += 500
    }
    if (stop) {
      parentPort!.postMessage({ records: i - from, seconds: (performance.now() - started) / 1000 })
      w.close()
    } else setImmediate(loop)
  }
  loop()
} else {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '200000' },
      queries: { type: 'string', default: '200' },
      json: { type: 'boolean', default: false },
    },
  })
  const total = Number(values.records)
  const queries = Number(values.queries)
  const dir = mkdtempSync(join(tmpdir(), 'mi-index-bench-'))
  try {
    const recordsOnly = applyAll(join(dir, 'records.sqlite'), total, [])
    const path = join(dir, 'index.sqlite')
    const withFields = applyAll(path, total, ['temp', 'load'])

    const writer = new Worker(new URL(import.meta.url), { workerData: { path, from: total, total } })
    const done = new Promise<{ records: number; seconds: number }>((r) => writer.once('message', r))
    const reader = new IndexReader(path)
    const q = {
      streams: () => true,
      module: 'kiln-3',
      field: 'temp',
      fromUs: T0,
      toUs: T0 + HOUR,
      stepUs: 1_000_000,
      agg: 'avg' as const,
      limit: 11_000,
      maxSeries: 10,
    }
    const direct: number[] = []
    let buckets = 0
    const cpu0 = process.threadCpuUsage()
    for (let i = 0; i < queries; i++) {
      const t = performance.now()
      buckets = reader.range(q).series[0]!.points.length
      direct.push(performance.now() - t)
    }
    const cpu = process.threadCpuUsage(cpu0)
    const cpuMsPerQuery = +((cpu.user + cpu.system) / 1000 / queries).toFixed(2)
    const handler = createIndexQueryHandler({
      indexes: [{ name: 'idx', path }],
      logDir: dir,
      verify: () => ({ ok: true, operator: { name: 'bench', scopes: ['read:*'] } }),
    })
    const server = createServer((req, res) => void handler(req, res))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/index/v1/range?module=kiln-3&field=temp&from=${T0}&to=${T0 + HOUR}&step=1s&agg=avg&limit=11000`
    const http: number[] = []
    const httpCpu0 = process.threadCpuUsage()
    for (let i = 0; i < queries; i++) {
      const t = performance.now()
      const res = await fetch(url, { headers: { authorization: 'Bearer x' } })
      await res.arrayBuffer()
      http.push(performance.now() - t)
    }
    const httpCpu = process.threadCpuUsage(httpCpu0)
    // This thread runs both the handler and the fetch client.
    const httpCpuMsPerQuery = +((httpCpu.user + httpCpu.system) / 1000 / queries).toFixed(2)
    writer.postMessage('stop')
    const ingest = await done
    server.close()
    await handler.close()
    reader.close()
    await writer.terminate()
    const result = {
      records: total,
      applyRecordsPerSec: { recordsOnly, recordsAndTwoFields: withFields },
      ingestDuringQueriesRecordsPerSec: Math.round(ingest.records / ingest.seconds),
      rangeQuery: {
        buckets,
        direct: { p50: +pct(direct, 50).toFixed(2), p99: +pct(direct, 99).toFixed(2), cpuMsPerQuery },
        http: {
          p50: +pct(http, 50).toFixed(2),
          p99: +pct(http, 99).toFixed(2),
          cpuMsPerQuery: httpCpuMsPerQuery,
        },
      },
    }
    if (values.json) console.log(JSON.stringify(result))
    else {
      const f = (r: { wall: number; cpu: number }) =>
        `${r.wall.toLocaleString('en-US')} records/s (${r.cpu.toLocaleString('en-US')} per CPU-second)`
      console.log(`apply (records only)          ${f(recordsOnly)}`)
      console.log(`apply (records + 2 fields)    ${f(withFields)}`)
      console.log(
        `apply while queries run       ${result.ingestDuringQueriesRecordsPerSec.toLocaleString('en-US')} records/s`,
      )
      console.log(
        `range 1 h @ 1 s (${buckets} buckets), direct  p50 ${result.rangeQuery.direct.p50} ms  p99 ${result.rangeQuery.direct.p99} ms  (${cpuMsPerQuery} CPU-ms each)`,
      )
      console.log(
        `range 1 h @ 1 s, over HTTP (JSON)     p50 ${result.rangeQuery.http.p50} ms  p99 ${result.rangeQuery.http.p99} ms  (${httpCpuMsPerQuery} CPU-ms each, client included)`,
      )
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
