/**
 * The kv scenarios' quiet-get client, a child process of its own (forked by sub-kv.ts; never
 * imported): sequential gets of random keys with nothing else in the process, so what it times
 * is the get, not the harness. In the harness's main thread the same gets shared the thread with
 * its timers, /proc sampling and a heap grown by the preload and the load (its CPU per get was
 * ~130 µs against 80–85 µs for the same client alone). Both targets get the same treatment: ours
 * through the SDK's get over one kept-alive connection (as `oursGet`, kv-get.ts), Redis over one
 * ioredis connection.
 *
 * In: a QuietPlan; the client warms up and says so ('warm'); in: 'go' (the parent has sampled the
 * threads' CPU meanwhile); out: a QuietResult: the latencies in ms, the process's own CPU over the
 * timed gets, and the misses.
 */
import { performance } from 'node:perf_hooks'
import { Redis } from 'ioredis'
import { sdkGet } from './kv-get.ts'

export type QuietPlan =
  | { kind: 'ours'; port: number; token: string; ns: string; keys: number; gets: number; warm: number }
  | { kind: 'redis'; port: number; keys: number; gets: number; warm: number }

export interface QuietResult {
  ms: number[]
  cpuUs: number
  misses: number
}

async function run(plan: QuietPlan): Promise<QuietResult> {
  let close = () => {}
  let get: (key: string) => Promise<boolean>
  if (plan.kind === 'ours') get = sdkGet(plan.port, plan.token, plan.ns)
  else {
    const r = new Redis({ host: '127.0.0.1', port: plan.port, maxRetriesPerRequest: 0 })
    get = async (key) => (await r.get(key)) !== null
    close = () => r.disconnect()
  }
  const key = () => `device-${Math.floor(Math.random() * plan.keys)}`
  // Warm: the connection, the JIT, and both sides' first allocations are not in the numbers.
  for (let i = 0; i < plan.warm; i++) await get(key()).catch(() => false)
  const go = new Promise((resolve) => process.once('message', resolve))
  process.send!('warm')
  await go
  const ms = new Array<number>(plan.gets)
  let misses = 0
  const c0 = process.cpuUsage()
  for (let i = 0; i < plan.gets; i++) {
    const t = performance.now()
    if (!(await get(key()).catch(() => false))) misses++
    ms[i] = performance.now() - t
  }
  const c = process.cpuUsage(c0)
  close()
  return { ms, cpuUs: c.user + c.system, misses }
}

process.once('message', (plan: QuietPlan) => {
  run(plan).then(
    (result) => process.send!(result, () => process.exit(0)),
    (err) => {
      console.error(err)
      process.exit(1)
    },
  )
})
