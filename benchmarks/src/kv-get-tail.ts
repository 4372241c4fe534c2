/**
 * Where the slow quiet gets come from: one server (kv subscriber, reads thread, KEYS keys
 * preloaded, then left idle), and per round and client STYLE a client process of its own
 * (kv-get-tail-client.ts) doing GETS sequential gets. Per round: the client's totals (CPU and heap
 * per get, p50/p99, its GC count; with SCHED=1, of the slow gets > 0.8 ms, how many overlapped a GC
 * in the client or had the client or the reads thread waiting in the run queue for more than
 * half of the get), its slow gets one by one, and each server thread's CPU/run-queue ms.
 *
 *   SCHED=1 STYLES=sdk,agent node benchmarks/src/kv-get-tail.ts      # KEYS=10000 GETS=5000 ROUNDS=2
 *   CLIENT_FLAGS='--min-semi-space-size=128 --max-semi-space-size=128' ...   # heap per get
 *   PERF=/tmp/srv.data MI_BENCH_NODE_FLAGS=--perf-basic-prof ...     # `perf record -g` of the server
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { schedDelta, threadSched } from './procs.ts'
import { startKvServer } from './scenarios/kv-setup.ts'

const KEYS = Number(process.env.KEYS ?? 10_000)
const GETS = Number(process.env.GETS ?? 5000)
const ROUNDS = Number(process.env.ROUNDS ?? 2)
const STYLES = (process.env.STYLES ?? 'sdk,agent').split(',')

const dir = await mkdtemp(join(tmpdir(), 'mi-kv-get-tail-'))
const server = await startKvServer(dir, KEYS)
let perf: ReturnType<typeof spawn> | undefined
try {
  await new Promise((r) => setTimeout(r, 1000))
  if (process.env.PERF) {
    const args = [
      'record',
      '-e',
      'cpu-clock',
      '-F',
      '9999',
      '-g',
      '-p',
      String(server.pid),
      '-o',
      process.env.PERF,
    ]
    perf = spawn('perf', args, { stdio: 'ignore' })
    await new Promise((r) => setTimeout(r, 500))
  }
  for (let round = 0; round < ROUNDS; round++)
    for (const style of round % 2 ? [...STYLES].reverse() : STYLES) {
      const before = threadSched(server.pid)
      const flags = (process.env.CLIENT_FLAGS ?? '').split(' ').filter(Boolean)
      const client = new URL('./kv-get-tail-client.ts', import.meta.url).pathname
      const args = [String(server.readApi), server.operatorToken!, String(KEYS), String(GETS), style]
      const child = spawn(process.execPath, [...flags, client, ...args], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, SRV_PID: String(server.pid) },
      })
      let out = ''
      child.stdout.on('data', (d) => {
        out += d
      })
      await new Promise((r) => child.once('exit', r))
      const threads: Record<string, string> = {}
      for (const [name, t] of schedDelta(before, threadSched(server.pid)))
        if (t.runMs >= 1 || t.waitMs >= 1) threads[name] = `${t.runMs.toFixed(0)}/${t.waitMs.toFixed(0)}`
      const [totals, slow] = out.trim().split('\n')
      console.log(JSON.stringify({ round, ...JSON.parse(totals!), server_threads_run_wait_ms: threads }))
      console.log(`  slow: ${slow}`)
    }
} finally {
  if (perf) {
    perf.kill('SIGINT')
    await new Promise((r) => perf!.once('exit', r))
  }
  await server.kill()
  await rm(dir, { recursive: true, force: true })
}
