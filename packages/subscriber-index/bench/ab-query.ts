// A/B helper (issue 17): `node bench/ab-query.ts <worktree>`. CPU ms per 1 h @ 1 s range query: direct
// (IndexReader.range), over HTTP with client and server in this thread, server thread alone (serverCpuMs).
// CPU per 1 h @ 1 s range query: direct (IndexReader) and over HTTP (handler + fetch client in this thread)
// AB_FORMAT=values asks the HTTP route for format=values (trees that have it).
const wt = process.argv[2]!
const { IndexWriter } = await import(`${wt}/packages/subscriber-index/src/writer.ts`)
const { IndexReader, createIndexQueryHandler } = await import(`${wt}/packages/subscriber-index/src/index.ts`)

import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'

const dir = mkdtempSync(join(tmpdir(), 'idx-q-'))
const path = join(dir, 'i.sqlite')
const T0 = Date.UTC(2026, 10, 22, 9, 0, 0) * 1000
const w = new IndexWriter(path, { fields: ['temp', 'load'] })
let lsn = 0
for (let b = 0; b < (3600 * 8) / 4000; b++) {
  // 8 modules, 1 record per second each, one hour
  const out = []
  for (let k = 0; k < 4000; k++) {
    const i = b * 4000 + k
    const m = Math.floor(i / 32) % 8
    const sec = (Math.floor(i / 256) * 32 + (i % 32)) % 3600
    out.push({
      lsn: ++lsn,
      stream: 'bench',
      module: `bench-${m}`,
      core: '',
      ts: T0 + sec * 1e6 + m,
      body: Buffer.from(`{"temp":${((i * 37) % 1000) / 7},"load":${i % 13}}`),
    })
  }
  w.apply(out)
}
w.close()
const reader = new IndexReader(path)
const q = {
  streams: () => true,
  module: 'bench-0',
  field: 'temp',
  fromUs: T0,
  toUs: T0 + 3600e6,
  stepUs: 1e6,
  agg: 'avg',
  limit: 4000,
  maxSeries: 100,
}
for (let i = 0; i < 20; i++) reader.range(q)
let c0 = process.threadCpuUsage()
const N = 200
let buckets = 0
for (let i = 0; i < N; i++) buckets = reader.range(q).series[0].points.length
let c = process.threadCpuUsage(c0)
const direct = (c.user + c.system) / 1000 / N
// The HTTP route's path (rangeJson: the series as JSON bytes), where the tree has it.
let rangeJson: number | undefined
if (typeof reader.rangeJson === 'function') {
  for (let i = 0; i < 20; i++) reader.rangeJson(q)
  c0 = process.threadCpuUsage()
  for (let i = 0; i < N; i++) reader.rangeJson(q)
  c = process.threadCpuUsage(c0)
  rangeJson = +((c.user + c.system) / 1000 / N).toFixed(3)
}
const handler = createIndexQueryHandler({
  indexes: [{ name: 'idx', path }],
  logDir: dir,
  verify: () => ({ ok: true, operator: { name: 'b', scopes: ['read:*'] } }),
})
const server = createServer((req, res) => void handler(req, res))
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
const url = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}/index/v1/range?module=bench-0&field=temp&from=${T0}&to=${T0 + 3600e6}&step=1s&agg=avg&limit=4000${process.env.AB_FORMAT ? `&format=${process.env.AB_FORMAT}` : ''}`
for (let i = 0; i < 20; i++)
  await (await fetch(url, { headers: { authorization: 'Bearer x' } })).arrayBuffer()
c0 = process.threadCpuUsage()
let bytes = 0
for (let i = 0; i < N; i++)
  bytes = (await (await fetch(url, { headers: { authorization: 'Bearer x' } })).arrayBuffer()).byteLength
c = process.threadCpuUsage(c0)
const http = (c.user + c.system) / 1000 / N
// The server side alone: the handler and node:http in a worker thread (as the reads thread runs
// them), its thread CPU per request; the client stays in this thread.
const worker = new Worker(
  `const { parentPort, workerData } = require('node:worker_threads')
   ;(async () => {
     const { createIndexQueryHandler } = await import(workerData.wt + '/packages/subscriber-index/src/index.ts')
     const handler = createIndexQueryHandler({
       indexes: [{ name: 'idx', path: workerData.path }],
       logDir: workerData.dir,
       verify: () => ({ ok: true, operator: { name: 'b', scopes: ['read:*'] } }),
     })
     const server = require('node:http').createServer((req, res) => void handler(req, res))
     server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port))
     parentPort.on('message', (m) => {
       if (m === 'cpu') parentPort.postMessage(process.threadCpuUsage())
       else { server.close(); handler.close().then(() => parentPort.close()) }
     })
   })()`,
  { eval: true, workerData: { wt, path, dir } },
)
const fromWorker = <T>() => new Promise<T>((r) => worker.once('message', r))
const workerUrl = url.replace(/:\d+\//, `:${await fromWorker<number>()}/`)
for (let i = 0; i < 20; i++)
  await (await fetch(workerUrl, { headers: { authorization: 'Bearer x' } })).arrayBuffer()
worker.postMessage('cpu')
const w0 = await fromWorker<NodeJS.CpuUsage>()
for (let i = 0; i < N; i++)
  await (await fetch(workerUrl, { headers: { authorization: 'Bearer x' } })).arrayBuffer()
worker.postMessage('cpu')
const w1 = await fromWorker<NodeJS.CpuUsage>()
const serverCpu = (w1.user + w1.system - w0.user - w0.system) / 1000 / N
worker.postMessage('stop')
await new Promise((r) => worker.once('exit', r))
// JSON alone, for scale
const res = reader.range(q)
c0 = process.threadCpuUsage()
for (let i = 0; i < N; i++) JSON.stringify(res)
c = process.threadCpuUsage(c0)
console.log(
  JSON.stringify({
    wt,
    format: process.env.AB_FORMAT ?? 'points',
    buckets,
    bytes,
    directCpuMs: +direct.toFixed(3),
    rangeJsonCpuMs: rangeJson,
    httpCpuMs: +http.toFixed(3),
    serverCpuMs: +serverCpu.toFixed(3),
    jsonCpuMs: +((c.user + c.system) / 1000 / N).toFixed(3),
    load: (await import('node:os')).loadavg()[0]!.toFixed(2),
  }),
)
server.close()
await handler.close()
reader.close()
rmSync(dir, { recursive: true, force: true })
