/**
 * What a kv get costs on the client side and what on the server: one server (kv subscriber,
 * reads thread, KEYS keys preloaded), then ROUNDS rounds that each run GETS sequential gets of
 * random keys per client style, in alternating order (scenarios/kv-get.ts): `fetch` (undici
 * inside Node, a new request object per get), `agent` (`node:http` with a keep-alive Agent
 * holding one socket: the SDK's transport before) and `sdk` (`createKv(...)(ns).get`, its own
 * HTTP/1.1 client on one kept-alive connection: what `oursGet` and the kv scenarios use). Per
 * style and round: client CPU µs per get (process.cpuUsage of this process,
 * which does nothing else), client-side p50/p99 ms, and the reads thread's own request time
 * (`mi_reads_request_us`, arrival → reply written) p50/p99 over the same gets, with that thread's
 * CPU for them (`mi_reads_request_cpu_us`: wall time above it is waiting for a core). And, as the
 * reference at the same moment on the same machine, Redis GET over one ioredis connection (the
 * kv scenarios' redis row). Medians of rounds
 * at the end. One JSON line per round, load average in each.
 *
 *   node benchmarks/src/kv-get-client.ts            # KEYS=10000 GETS=3000 ROUNDS=3
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { agentGet, fetchGet, sdkGet } from './scenarios/kv-get.ts'
import { preloadRedis, startKvServer } from './scenarios/kv-setup.ts'
import { startRedis } from './targets/peers.ts'

const KEYS = Number(process.env.KEYS ?? 10_000)
const GETS = Number(process.env.GETS ?? 3000)
const ROUNDS = Number(process.env.ROUNDS ?? 3)

const dir = await mkdtemp(join(tmpdir(), 'mi-kv-get-client-'))
const server = await startKvServer(dir, KEYS)
const redis = await startRedis(join(dir, 'redis'))
const r = new Redis({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: 0 })
try {
  await preloadRedis(redis.port, KEYS)
  const styles = {
    fetch: fetchGet(server.readApi!, server.operatorToken!, 'bench'),
    agent: agentGet(server.readApi!, server.operatorToken!, 'bench'),
    sdk: sdkGet(server.readApi!, server.operatorToken!, 'bench'),
    redis: async (key: string) => (await r.get(key)) !== null,
  }
  for (const get of Object.values(styles)) for (let i = 0; i < 300; i++) await get(`device-${i}`)
  const results: Record<string, Array<Record<string, number>>> = { fetch: [], agent: [], sdk: [], redis: [] }
  for (let round = 0; round < ROUNDS; round++) {
    const order =
      round % 2
        ? (['redis', 'sdk', 'agent', 'fetch'] as const)
        : (['fetch', 'agent', 'sdk', 'redis'] as const)
    for (const style of order) {
      const get = styles[style]
      const key = `w-${style}-${round}`
      await server.stats(key)
      const lat: number[] = []
      const c0 = process.cpuUsage()
      for (let i = 0; i < GETS; i++) {
        const t = performance.now()
        if (!(await get(`device-${Math.floor(Math.random() * KEYS)}`))) throw new Error('miss')
        lat.push(performance.now() - t)
      }
      const cpu = process.cpuUsage(c0)
      const hs = style === 'redis' ? [] : ((await server.stats(key)).interval?.histograms ?? [])
      const h = hs.find((x) => x.name === 'mi_reads_request_us')
      const extra: Record<string, number> = {}
      for (const x of hs)
        if (/mi_reads_request_cpu_us|mi_reads_loop_delay_us/.test(x.name)) {
          const n = x.name.replace(/^mi_reads_|_us$/g, '')
          Object.assign(extra, {
            [`${n}_n`]: x.count,
            [`${n}_p99_ms`]: x.p99 / 1000,
            [`${n}_max_ms`]: x.max / 1000,
          })
        }
      lat.sort((a, b) => a - b)
      const r = {
        client_cpu_us_per_get: +((cpu.user + cpu.system) / GETS).toFixed(1),
        p50_ms: +lat[Math.floor(GETS * 0.5)]!.toFixed(3),
        p99_ms: +lat[Math.floor(GETS * 0.99)]!.toFixed(3),
        max_ms: +lat.at(-1)!.toFixed(3),
        server_p50_ms: (h?.p50 ?? Number.NaN) / 1000,
        server_p99_ms: (h?.p99 ?? Number.NaN) / 1000,
        server_max_ms: (h?.max ?? Number.NaN) / 1000,
        ...extra,
        load1: loadavg()[0]!,
      }
      results[style]!.push(r)
      console.log(JSON.stringify({ round, style, ...r }))
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  for (const [style, rs] of Object.entries(results)) {
    const m: Record<string, number> = {}
    for (const k of Object.keys(rs[0]!)) m[k] = median(rs.map((r) => r[k]!))
    console.log(JSON.stringify({ style, median_of: rs.length, ...m }))
  }
} finally {
  r.disconnect()
  await redis.kill()
  await server.kill()
  await rm(dir, { recursive: true, force: true })
}
