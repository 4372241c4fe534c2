/**
 * Throughput: closed-loop producers at 128 B and 1 KiB bodies over 1, 100 and 1,000 connections,
 * each keeping the same in-flight window of unacknowledged frames, against module-ingest (flush
 * `always` and `interval`), NATS JetStream and Redis Streams. Reports records/s, body MB/s,
 * client ack latency, our server's flush latency, server RSS peak and CPU.
 *
 * Not part of the test suite (benchmarks/test/quick.test.ts only smoke-tests the harness).
 * Command: node benchmarks/src/run.ts throughput            (all six)
 *          node benchmarks/src/run.ts throughput-128-c100   (one)
 * Prerequisites: Node 24 (node_modules/.bin/node); /usr/sbin/nats-server (Debian nats-server,
 * 2.9.x) and redis-server (Debian redis-server) for the peer rows, which are skipped without them.
 */
import { comparedTargets, measureTarget } from '../measure.ts'
import type { Row, Scenario } from '../scenario.ts'

const kBodies = [
  { label: '128', bytes: 128 },
  { label: '1k', bytes: 1024 },
] as const
const kConnections = [1, 100, 1000] as const

export const throughputScenarios: Scenario[] = kBodies.flatMap((body) =>
  kConnections.map(
    (connections): Scenario => ({
      name: `throughput-${body.label}-c${connections}`,
      group: 'throughput',
      description: `closed loop, ${body.bytes} B bodies, ${connections} connection(s), all targets`,
      quick: body.bytes === 128 && connections === 100,
      full: true,
      async run(ctx) {
        const rows: Row[] = []
        for (const target of comparedTargets(ctx)) {
          ctx.log(`  ${target} …`)
          rows.push(
            await measureTarget(ctx, this.name, target, {
              bodyBytes: body.bytes,
              connections,
              drainMs: 10_000,
            }),
          )
        }
        return rows
      },
    }),
  ),
)
