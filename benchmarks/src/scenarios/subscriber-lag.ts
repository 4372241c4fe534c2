/**
 * Subscriber lag under load: module-ingest (flush `always`) with the built-in disk subscriber
 * enabled, driven closed-loop with 128 B records over 100 connections. Samples the subscriber's
 * `lagRecords` (durable records not yet delivered) from the admin socket's `stats` every 250 ms and
 * reports the peak and the value once the load has stopped and drained, then how long the subscriber takes to catch
 * up. Throughput here is ingest with a subscriber competing for the same CPUs.
 *
 * Not part of the test suite (benchmarks/test/quick.test.ts only smoke-tests the harness).
 * Command: node benchmarks/src/run.ts subscriber-lag
 * Prerequisites: none beyond Node 24.
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { measureTarget } from '../measure.ts'
import type { Row, RunContext, Scenario } from '../scenario.ts'
import type { OursServer } from '../targets/ours.ts'

async function lagOf(server: OursServer): Promise<number> {
  const s = await server.stats()
  return (s.subscribers ?? []).reduce((a, x) => a + x.lagRecords, 0)
}

export const subscriberLagScenario: Scenario = {
  name: 'subscriber-lag',
  group: 'subscriber',
  description: 'disk subscriber enabled under closed-loop load: peak lag, lag at stop, catch-up time',
  quick: true,
  full: true,
  async run(ctx: RunContext): Promise<Row[]> {
    if (!ctx.targets.has('ours')) return []
    ctx.log('  ours + disk subscriber …')
    const row = await measureTarget(ctx, this.name, 'ours', {
      bodyBytes: 128,
      connections: 100,
      subscribers: [{ name: 'disk', use: 'disk' }],
      drainMs: 10_000,
      during(ut) {
        if (ut.kind !== 'ours') throw new Error('subscriber-lag runs against our server only')
        const server = ut.server
        let peak = 0
        let stopped = false
        const sampler = (async () => {
          while (!stopped) {
            peak = Math.max(peak, await lagOf(server).catch(() => 0))
            await sleep(250)
          }
        })()
        return async () => {
          stopped = true
          await sampler
          const atStop = await lagOf(server)
          const t0 = performance.now()
          const deadline = t0 + (ctx.quick ? 10_000 : 60_000)
          let lag = atStop
          while (lag > 0 && performance.now() < deadline) {
            await sleep(50)
            lag = await lagOf(server)
          }
          return {
            lag_peak_records: Math.max(peak, atStop),
            lag_after_load_records: atStop,
            ...(lag === 0
              ? { catch_up_ms: Math.round(performance.now() - t0) }
              : { catch_up_ms: 'not within deadline', lag_left_records: lag }),
          }
        }
      },
    })
    return [row]
  },
}
