import { setTimeout as sleep } from 'node:timers/promises'
import { adminRequest, formatMetricsTable, type MetricsSummary } from '@module-ingest/telemetry'
import { Command } from 'commander'
import { type ConfigFlags, configFromFlags, configOptions, usageError } from '../common.ts'
import { formatWatch, type WatchSample } from './stats-watch.ts'

interface StatsReply {
  metrics?: MetricsSummary
  [k: string]: unknown
}

/** What the engine's `stats` admin command returns, as a table; unknown sections print as JSON. */
export function formatStats(stats: StatsReply): string {
  const parts: string[] = []
  if (stats.metrics) parts.push(formatMetricsTable(stats.metrics))
  for (const [k, v] of Object.entries(stats)) {
    if (k === 'metrics' || v === undefined || v === null) continue
    // Nested `metrics` are the raw per-worker snapshots, already summed into the table above.
    const text =
      typeof v === 'object' ? JSON.stringify(v, (key, x) => (key === 'metrics' ? undefined : x)) : String(v)
    parts.push(`${k}: ${text}\n`)
  }
  return parts.join('\n')
}

export function statsCommand(): Command {
  return configOptions(new Command('stats'))
    .description("show a running server's metrics (via its admin socket)")
    .option('--json', 'print the raw JSON reply')
    .option('-w, --watch', 'refresh until interrupted')
    .option('--interval-ms <ms>', 'refresh period for --watch', '2000')
    .option('--socket <path>', 'admin socket (default telemetry.adminSocket)')
    .action(
      async (o: ConfigFlags & { json?: boolean; watch?: boolean; intervalMs: string; socket?: string }) => {
        const socket = o.socket ?? configFromFlags(o).telemetry.adminSocket
        const interval = Number(o.intervalMs)
        if (!Number.isInteger(interval) || interval < 100)
          throw usageError('--interval-ms expects an integer ≥ 100')
        let prev: WatchSample | undefined
        for (;;) {
          const stats = (await adminRequest(socket, 'stats')) as StatsReply
          const sample: WatchSample = { atMs: Date.now(), stats }
          // --watch: a refreshing table with rates since the previous refresh; --json stays raw.
          const text = o.json
            ? `${JSON.stringify(stats)}\n`
            : o.watch
              ? formatWatch(sample, prev, interval)
              : formatStats(stats)
          prev = sample
          // Clear the screen between refreshes only on a terminal; piped output stays a plain log.
          if (o.watch && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H')
          process.stdout.write(text)
          if (!o.watch) return
          await sleep(interval)
        }
      },
    )
}
