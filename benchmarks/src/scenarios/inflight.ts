/**
 * In-flight rows (issue 14): the same TOTAL number of records in flight for every target, at the
 * pipeline depths a sensor fleet actually runs, instead of the throughput rows' 256 per connection
 * (which only shows queueing). Closed loop, one record per frame, fresh server per row:
 *
 *   inflight-128-c100-w3     100 connections × 3   ≈ 300 in flight, 128 B
 *   inflight-128-c100-w256   100 connections × 256 = 25,600 in flight, 128 B
 *   inflight-128-c1-w256     1 connection × 256, 128 B
 *   inflight-1k-c100-w3      100 connections × 3, 1 KiB
 *   inflight-128-c1-w1       1 connection, one record at a time: ack p50/p99/p99.9 is the
 *                            round trip through the whole server (≈ one fdatasync + one RTT)
 *
 * Our rows also carry the server's per-stage histograms (measure.ts stageBreakdown): where the
 * time went, so a change shows which stage it moved.
 *
 * Not part of the test suite. Command: node benchmarks/src/run.ts inflight --targets ours,redis
 * (add --base DIR --targets ours,ours-base,redis for a before/after in the same run).
 */
import { comparedTargets, measureTarget } from '../measure.ts'
import type { Row, Scenario } from '../scenario.ts'

const kRows = [
  { body: '128', bytes: 128, connections: 100, window: 3 },
  { body: '128', bytes: 128, connections: 100, window: 256 },
  { body: '128', bytes: 128, connections: 1, window: 256 },
  { body: '1k', bytes: 1024, connections: 100, window: 3 },
  { body: '128', bytes: 128, connections: 1, window: 1 },
] as const

export const inflightScenarios: Scenario[] = kRows.map(
  (r): Scenario => ({
    name: `inflight-${r.body}-c${r.connections}-w${r.window}`,
    group: 'inflight',
    description: `closed loop, ${r.bytes} B, ${r.connections} connection(s) × ${r.window} in flight (${(r.connections * r.window).toLocaleString('en')} total), all targets`,
    quick: false,
    full: true,
    async run(ctx) {
      const rows: Row[] = []
      for (const target of comparedTargets(ctx)) {
        ctx.log(`  ${target} …`)
        rows.push(
          await measureTarget(ctx, this.name, target, {
            bodyBytes: r.bytes,
            connections: r.connections,
            window: r.window,
            drainMs: 10_000,
          }),
        )
      }
      return rows
    },
  }),
)
