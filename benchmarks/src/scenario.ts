import type { LatencySummary } from './histogram.ts'

/** What a scenario can run against. `ours` uses flush `always` (fdatasync before ACK). */
export const kTargets = ['ours', 'ours-base', 'ours-interval', 'nats-js', 'nats-js-lean', 'redis'] as const
export type TargetName = (typeof kTargets)[number]

export const kTargetLabel: Record<TargetName, string> = {
  ours: 'module-ingest (always)',
  'ours-base': 'module-ingest (always), baseline checkout (--base DIR)',
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
  /** The scenario names, groups and prefixes given on the command line (empty: the default set). */
  named: ReadonlySet<string>
  targets: ReadonlySet<TargetName>
  /** In-flight window per connection, the same for every target (see windowFor). */
  window: number
  /** --window was given: use it as is for every scenario. */
  windowFixed: boolean
  /** Load-generator processes. */
  workers: number
  warmupMs: number
  measureMs: number
  /**
   * A second checkout of this repository (--base DIR, with its node_modules) whose server runs as
   * target `ours-base`: a before/after comparison in one run, on the same machine and load.
   */
  baseRoot?: string
  /** Per-run scratch dir (data dirs, stores); removed at the end unless --keep. */
  scratch: string
  log(message: string): void
}

/**
 * The window a scenario uses, the same for every target: `ctx.window` (256) per connection, but at
 * most 32,768 frames in flight in total, so 1,000 connections get 32 each. A quarter of a million
 * frames in flight only measures queueing (and the peers' clients need seconds to issue them).
 */
export function windowFor(ctx: RunContext, connections: number): number {
  if (ctx.windowFixed) return ctx.window
  return Math.max(16, Math.min(ctx.window, Math.floor(32_768 / connections)))
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
