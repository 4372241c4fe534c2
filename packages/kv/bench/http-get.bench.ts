/**
 * Server-side CPU per HTTP get: the kv read handler on `startMetricsServer` (behind two handlers
 * that pass, as in the server), a store of KEYS keys, GETS sequential gets of random keys from a
 * keep-alive `node:http` client in a child process (so the client's CPU is not counted). One JSON
 * line: server CPU µs per get (process.cpuUsage), client-side p50/p99 ms, load average.
 *
 *   node packages/kv/bench/http-get.bench.ts                    # KEYS=10000 GETS=5000
 */
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeOp } from '@module-ingest/kv-protocol'
import { Metrics, startMetricsServer } from '@module-ingest/telemetry'
import { createKvReadHandler } from '../src/http.ts'
import { KvStore } from '../src/store.ts'

const KEYS = Number(process.env.KEYS ?? 10000),
  GETS = Number(process.env.GETS ?? 5000)
const path = join(mkdtempSync(join(tmpdir(), 'kvh-')), 's.sqlite')
const store = new KvStore(path)
for (let i = 0; i < KEYS; i += 1000)
  store.apply(
    Array.from({ length: 1000 }, (_, k) => ({
      lsn: i + k + 1,
      stream: 'kv.bench',
      module: 'm',
      core: '',
      seq: BigInt(i + 1),
      rts: Date.now() * 1000,
      body: encodeOp(
        { op: 'set', key: `device-${i + k}`, value: { type: 'json', value: { temp: k % 100, fw: '1.2.3' } } },
        1000,
      ),
    })),
  )
const handler = createKvReadHandler({
  stores: [{ name: 'kv', path }],
  verify: () => ({ ok: true, operator: { name: 'o', scopes: ['read:kv.*'] } }),
})
const srv = await startMetricsServer({
  port: 0,
  host: '127.0.0.1',
  metrics: new Metrics(),
  handlers: [async () => false, async () => false, handler],
})
const port = srv.address.port
const client = `
const http = require('node:http'); const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = (k) => new Promise((res, rej) => http.get({ host: '127.0.0.1', port: ${port}, path: '/kv/v1/get?ns=bench&key=' + k, agent, headers: { authorization: 'Bearer x' } }, (r) => { r.resume(); r.on('end', () => r.statusCode === 200 ? res() : rej(new Error(String(r.statusCode)))) }).on('error', rej));
(async () => { for (let i = 0; i < 300; i++) await get('device-' + i); process.stdout.write('go\\n'); await new Promise(r => process.stdin.once('data', r)); const lat = []; for (let i = 0; i < ${GETS}; i++) { const s = performance.now(); await get('device-' + Math.floor(Math.random() * ${KEYS})); lat.push(performance.now() - s) } lat.sort((a, b) => a - b); process.stdout.write(JSON.stringify({ p50: +lat[Math.floor(lat.length * .5)].toFixed(3), p99: +lat[Math.floor(lat.length * .99)].toFixed(3) }) + '\\n'); process.exit(0) })()`
const child = spawn(process.execPath, ['-e', client], { stdio: ['pipe', 'pipe', 'inherit'] })
let buf = ''
child.stdout.on('data', (d) => {
  buf += d
})
while (!buf.includes('go')) await new Promise((r) => setTimeout(r, 10))
const c0 = process.cpuUsage()
child.stdin.write('x\n')
await new Promise((r) => child.once('exit', r))
const u = process.cpuUsage(c0)
console.log(
  JSON.stringify({
    keys: KEYS,
    gets: GETS,
    serverCpuUsPerGet: +((u.user + u.system) / GETS).toFixed(1),
    ...JSON.parse(buf.split('\n')[1]!),
    load1: loadavg()[0],
  }),
)
await srv.close()
await handler.close()
store.close()
