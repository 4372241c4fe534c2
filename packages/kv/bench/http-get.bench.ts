/**
 * Server-side cost of an HTTP get as the reads thread serves it: the kv read handler on
 * `listenHttp` with its fast lane (LANE=0: node:http only, as before the lane), a real
 * `CredentialStore` checking the operator token, a store of KEYS keys; GETS sequential gets of
 * random keys from a keep-alive `node:http` client in a child process (so the client's CPU is not
 * counted). One JSON line: server CPU µs per get (process.cpuUsage), heap bytes allocated per get,
 * client-side p50/p99 ms, load average.
 *
 * Heap per get is measured with a young generation large enough that nothing is collected during
 * the gets (the bench re-runs itself with --min/max-semi-space-size=256): the growth of new space
 * divided by the gets. Each ~6-16 MB of it is one scavenge on the reads thread.
 *
 *   node packages/kv/bench/http-get.bench.ts            # KEYS=10000 GETS=5000
 *   LANE=0 node packages/kv/bench/http-get.bench.ts     # node:http only
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { getHeapSpaceStatistics } from 'node:v8'
import { CredentialStore, createOperator } from '@module-ingest/auth'
import { encodeOp } from '@module-ingest/kv-protocol'
import { listenHttp } from '@module-ingest/telemetry/http-listener'
import { createKvReadHandler } from '../src/http.ts'
import { KvStore } from '../src/store.ts'

const kFlags = ['--min-semi-space-size=256', '--max-semi-space-size=256']
if (!process.execArgv.includes(kFlags[0]!)) {
  const r = spawnSync(process.execPath, [...kFlags, fileURLToPath(import.meta.url)], { stdio: 'inherit' })
  process.exit(r.status ?? 1)
}

const KEYS = Number(process.env.KEYS ?? 10000),
  GETS = Number(process.env.GETS ?? 5000)
const lane = process.env.LANE !== '0'
const dir = mkdtempSync(join(tmpdir(), 'kvh-'))
const path = join(dir, 's.sqlite')
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
const credentials = join(dir, 'credentials.yaml')
const { token } = await createOperator(credentials, { name: 'bench', scopes: ['read:*'] })
const creds = await CredentialStore.load(credentials)
const handler = createKvReadHandler({
  stores: [{ name: 'kv', path }],
  verify: (t) => creds.verifyOperator(t),
})
const srv = await listenHttp({ port: 0, handlers: [handler], ...(lane ? { fastGet: handler.fastGet } : {}) })
const port = srv.address.port
const client = `
const http = require('node:http'); const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = (k) => new Promise((res, rej) => http.get({ host: '127.0.0.1', port: ${port}, path: '/kv/v1/get?ns=bench&key=' + k, agent, headers: { authorization: 'Bearer ${token}' } }, (r) => { r.resume(); r.on('end', () => r.statusCode === 200 ? res() : rej(new Error(String(r.statusCode)))) }).on('error', rej));
(async () => { for (let i = 0; i < 2000; i++) await get('device-' + i % ${KEYS}); process.stdout.write('go\\n'); await new Promise(r => process.stdin.once('data', r)); const lat = []; for (let i = 0; i < ${GETS}; i++) { const s = performance.now(); await get('device-' + Math.floor(Math.random() * ${KEYS})); lat.push(performance.now() - s) } lat.sort((a, b) => a - b); process.stdout.write(JSON.stringify({ p50: +lat[Math.floor(lat.length * .5)].toFixed(3), p99: +lat[Math.floor(lat.length * .99)].toFixed(3) }) + '\\n'); process.exit(0) })()`
const child = spawn(process.execPath, ['-e', client], { stdio: ['pipe', 'pipe', 'inherit'] })
let buf = ''
child.stdout.on('data', (d) => {
  buf += d
})
while (!buf.includes('go')) await new Promise((r) => setTimeout(r, 10))
const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_used_size
const y0 = young()
const c0 = process.cpuUsage()
child.stdin.write('x\n')
await new Promise((r) => child.once('exit', r))
const u = process.cpuUsage(c0)
const y1 = young()
console.log(
  JSON.stringify({
    keys: KEYS,
    gets: GETS,
    lane,
    serverCpuUsPerGet: +((u.user + u.system) / GETS).toFixed(1),
    // Negative if a collection ran after all (then the number means nothing).
    heapBytesPerGet: Math.round((y1 - y0) / GETS),
    ...JSON.parse(buf.split('\n')[1]!),
    load1: loadavg()[0],
  }),
)
await srv.close()
await handler.close()
store.close()
rmSync(dir, { recursive: true, force: true })
