/**
 * Latency at fixed offered rates (10k, 100k, 500k records/s over 100 connections): an open-loop
 * generator schedules each send at a fixed rate whether or not earlier ones were answered, and
 * measures ack latency from the *scheduled* send time, so a stall shows up in the percentiles
 * instead of slowing the generator (no coordinated omission). A rate the target cannot sustain
 * shows as `achieved_pct` < 100 and a growing tail. 128 B bodies, same window for every target.
 *
 * Not part of the test suite (benchmarks/test/quick.test.ts only smoke-tests the harness).
 * Command: node benchmarks/src/run.ts latency          (all three rates)
 *          node benchmarks/src/run.ts latency-100k     (one)
 * Prerequisites: as throughput (nats-server, redis-server for the peer rows).
 */
import { comparedTargets, measureTarget } from '../measure.ts'
import type { Row, Scenario } from '../scenario.ts'

const kRates = [
  { label: '10k', perSec: 10_000 },
  { label: '100k', perSec: 100_000 },
  { label: '500k', perSec: 500_000 },
] as const

export const latencyScenarios: Scenario[] = kRates.map(
  (rate): Scenario => ({
    name: `latency-${rate.label}`,
    group: 'latency',
    description: `open loop at ${rate.perSec.toLocaleString('en')} records/s offered, 100 connections, 128 B`,
    quick: rate.perSec === 10_000,
    full: true,
    async run(ctx) {
      const rows: Row[] = []
      // --quick runs the cheapest rate against our server only: it checks the open-loop path.
      const targets = ctx.quick ? comparedTargets(ctx).filter((t) => t === 'ours') : comparedTargets(ctx)
      for (const target of targets) {
        ctx.log(`  ${target} …`)
        rows.push(
          await measureTarget(ctx, this.name, target, {
            bodyBytes: 128,
            connections: 100,
            ratePerSec: rate.perSec,
            drainMs: 5000,
          }),
        )
      }
      return rows
    },
  }),
)
