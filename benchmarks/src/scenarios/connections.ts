/**
 * Connection scale: 10,000 MIP/1 connections (50,000 with `--big`... only if the file-descriptor
 * limit allows) held open at once, each sending 128 B records at a low rate (1 record/s each,
 * open loop), against module-ingest (flush `always`). What matters here is the server's RSS with
 * that many sessions, its CPU at idle-ish load, the connect time, and ack latency staying flat.
 * Connections are spread over source addresses 127.0.0.2… so ephemeral ports never run out, and
 * `limits.maxConnections` is raised in the server's config.
 *
 * Not part of the test suite (benchmarks/test/quick.test.ts runs a 500-connection version).
 * Command: node benchmarks/src/run.ts connections-10k
 *          node benchmarks/src/run.ts connections-50k    (full run only if `ulimit -n` allows)
 * Prerequisites: `ulimit -n` above the connection count (+ slack) for the server process; the
 * harness checks and skips with the reason. Linux loopback answers on all of 127.0.0.0/8.
 */
import { execFileSync } from 'node:child_process'
import { emptyRow, measureTarget } from '../measure.ts'
import { type Row, type RunContext, type Scenario, windowFor } from '../scenario.ts'

/** Soft and hard RLIMIT_NOFILE of processes this one spawns (Node has no getrlimit). */
export function nofileLimit(): { soft: number; hard: number } {
  try {
    const out = execFileSync('sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' }).trim().split('\n')
    const n = (s: string | undefined) => (s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s))
    return { soft: n(out[0]), hard: n(out[1]) }
  } catch {
    return { soft: 1024, hard: 1024 }
  }
}

function connectionScenario(
  name: string,
  count: number,
  quickCount: number,
  full: boolean,
  /** Records per second over all connections (default: one per connection per second). */
  ratePerSec = count,
): Scenario {
  return {
    name,
    group: 'connections',
    description: `${count.toLocaleString('en')} connections at ${ratePerSec === count ? '1 record/s each' : `${ratePerSec} records/s in total`}, RSS and connect time (ours)`,
    quick: quickCount > 0,
    full,
    async run(ctx: RunContext): Promise<Row[]> {
      const connections = ctx.quick ? quickCount : count
      if (!ctx.targets.has('ours')) return []
      // The server holds one descriptor per connection plus its own files; a generator child holds
      // its share. Spawned processes inherit our limit; without privileges it cannot be raised.
      const need = connections + 512
      const { soft, hard } = nofileLimit()
      const base = emptyRow(name, 'ours', {
        body_bytes: 128,
        connections,
        window: windowFor(ctx, connections),
      })
      if (soft < need) {
        const why = `ulimit -n is ${soft} (hard ${hard}); ${connections} connections need ≥ ${need} in the server process (raise the hard limit, e.g. LimitNOFILE / prlimit as root)`
        ctx.log(`  skipped: ${why}`)
        return [{ ...base, skipped: why }]
      }
      const sources = Math.max(1, Math.ceil(connections / 5000)) + 1
      const localAddresses = Array.from({ length: sources }, (_, i) => `127.0.0.${i + 2}`)
      ctx.log(`  ours: ${connections} connections from ${localAddresses.join(', ')} …`)
      const row = await measureTarget(ctx, name, 'ours', {
        bodyBytes: 128,
        connections,
        ratePerSec: ctx.quick ? connections : ratePerSec,
        localAddresses,
        connectConcurrency: 128,
        maxConnections: connections + 100,
        drainMs: 10_000,
        // Each child holds its share of descriptors under the same limit.
        workers: Math.max(ctx.workers, Math.ceil(connections / 8000)),
      })
      // Issue 14 goal 4: memory per connection, from the peak over the idle server's RSS.
      if (
        row.rss_peak_mib !== null &&
        typeof row.extra.rss_start_mib === 'number' &&
        row.extra.connected === undefined
      )
        row.extra.kib_per_connection =
          Math.round((((row.rss_peak_mib - row.extra.rss_start_mib) * 1024) / connections) * 10) / 10
      return [row]
    },
  }
}

export const connectionScenarios: Scenario[] = [
  connectionScenario('connections-10k', 10_000, 500, true),
  // The most this machine's hard fd limit (20,000) allows: issue 14 extrapolates 50k from it.
  // Nearly idle (100 records/s over all of them): memory per idle connection.
  connectionScenario('connections-19k', 19_000, 0, false, 100),
  connectionScenario('connections-50k', 50_000, 0, true),
]
