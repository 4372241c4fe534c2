import type { LatencySummary } from './histogram.ts'

/** What a scenario can run against. `ours` uses flush `always` (fdatasync before ACK). */
export const kTargets = ['ours', 'ours-interval', 'nats-js', 'nats-js-lean', 'redis'] as const
export type TargetName = (typeof kTargets)[number]

export const kTargetLabel: Record<TargetName, string> = {
  ours: 'module-ingest (always)',
  'ours-interval': 'module-ingest (interval)',
  'nats-js': 'NATS JetStream (js.publish)',
  'nats-js-lean': 'NATS JetStream (lean publisher)',
  redis: 'Redis Streams',
}

/** One line of the results table. Units are in the field names (STYLE.md §2, §8). */
export interface Row {
  scenario: string
  target: TargetName | string
  params: { body_bytes?: number; connections?: number; window?: number; offered_per_s?: number }
  msgs_per_s: number | null
  mb_per_s: number | null
  /** Client-side ack latency: send (or scheduled send) → durable ACK. */
  ack: LatencySummary | null
  /** Server-side group-commit latency (`mi_flush_latency_us`), ours only. */
  flush: { p50_us: number; p99_us: number; p999_us: number } | null
  rss_peak_mib: number | null
  /** Server CPU (user + system) over the measurement window. */
  cpu_s: number | null
  errors: number
  /** Scenario-specific numbers (recovery time, lag, connect time...). */
  extra: Record<string, number | string>
  /** Set when the row could not run (peer missing, limit too low...): why. */
  skipped?: string
}

export interface RunContext {
  quick: boolean
  big: boolean
  targets: ReadonlySet<TargetName>
  /** In-flight window per connection, the same for every target. */
  window: number
  /** Load-generator processes. */
  workers: number
  warmupMs: number
  measureMs: number
  /** Per-run scratch dir (data dirs, stores); removed at the end unless --keep. */
  scratch: string
  log(message: string): void
}

export interface Scenario {
  name: string
  group: string
  /** One line for --list. */
  description: string
  /** Part of `--quick` (CI) and of the default full run. */
  quick: boolean
  full: boolean
  run(ctx: RunContext): Promise<Row[]>
}
