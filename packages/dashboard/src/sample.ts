import type { MetricsSummary, WindowRead } from '@module-ingest/telemetry'

/**
 * What the server's stats() returns, as far as the dashboard reads it. Structural on purpose: the
 * dashboard takes only numbers the server already keeps and invents none.
 */
export interface StatsLike {
  metrics: MetricsSummary
  /**
   * What each histogram recorded since the previous sample (`Metrics.window(key).read()`, read
   * right after stats() pulled every worker). Without it the sample has no percentiles: the
   * cumulative ones in `metrics` would hide a spike behind everything since start.
   */
  interval?: WindowRead | null
  parsers?: Array<{ sessions?: number; connections?: number }>
  writer?: { log?: { bytesOnDisk?: number; segments?: number } }
  subscribers?: Array<{
    name: string
    state: string
    lagRecords: number
    delivered: number
    lastError: unknown
  }> | null
}

export interface Percentiles {
  /** values recorded in the interval */
  count: number
  p50: number
  p99: number
  p999: number
}

/** One point of the dashboard's history. Rates are over the interval since the previous sample. */
export interface Sample {
  /** ms since the epoch */
  t: number
  recordsPerSec: number
  bytesPerSec: number
  /** mi_records_appended_total at sampling time (lets a test compare against /metrics). */
  recordsTotal: number
  /** mi_record_bytes_appended_total at sampling time. */
  bytesTotal: number
  /** µs, over the interval since the previous sample; null when nothing was recorded in it. */
  ackUs: Percentiles | null
  flushUs: Percentiles | null
  /** records per group commit, over the interval; null when no group was committed */
  groupRecords: Percentiles | null
  connections: number
  sessions: number
  logBytes: number
  segments: number
  oldestRecordAgeSec: number
  /** statfs of the data directory; null when unavailable */
  diskFreeBytes: number | null
  /** `<ring>/<parser>` → bytes used */
  ringUsedBytes: Record<string, number>
  subscribers: Array<{
    name: string
    state: string
    lag: number
    delivered: number
    ratePerSec: number
    lastError: string | null
  }>
}

function counter(m: MetricsSummary, name: string): number {
  let sum = 0
  for (const c of m.counters) if (c.name === name) sum += c.value
  return sum
}

function gauge(m: MetricsSummary, name: string): number {
  let sum = 0
  for (const g of m.gauges) if (g.name === name) sum += g.value
  return sum
}

function pct(interval: WindowRead | null | undefined, name: string): Percentiles | null {
  const h = interval?.histograms.find((x) => x.name === name)
  return h && h.count > 0 ? { count: h.count, p50: h.p50, p99: h.p99, p999: h.p999 } : null
}

function errorText(e: unknown): string | null {
  if (e === null || e === undefined) return null
  if (typeof e === 'string') return e
  if (typeof e === 'object' && 'message' in e) return String((e as { message: unknown }).message)
  return JSON.stringify(e)
}

/** Turn one stats() reply into a sample; `prev` (the previous sample) gives the rates. */
export function toSample(
  stats: StatsLike,
  prev: Sample | undefined,
  t: number,
  diskFreeBytes: number | null,
): Sample {
  const m = stats.metrics
  const recordsTotal = counter(m, 'mi_records_appended_total')
  const bytesTotal = counter(m, 'mi_record_bytes_appended_total')
  const dt = prev ? (t - prev.t) / 1000 : 0
  const rate = (now: number, before: number) => (dt > 0 ? Math.max(0, now - before) / dt : 0)
  const ring: Record<string, number> = {}
  for (const g of m.gauges)
    if (g.name === 'mi_ring_used_bytes') ring[`${g.labels.ring}/${g.labels.parser}`] = g.value
  const prevSubs = new Map(prev?.subscribers.map((s) => [s.name, s]))
  return {
    t,
    recordsPerSec: prev ? rate(recordsTotal, prev.recordsTotal) : gauge(m, 'mi_ingest_records_per_second'),
    bytesPerSec: prev ? rate(bytesTotal, prev.bytesTotal) : gauge(m, 'mi_ingest_bytes_per_second'),
    recordsTotal,
    bytesTotal,
    ackUs: pct(stats.interval, 'mi_ack_latency_us'),
    flushUs: pct(stats.interval, 'mi_flush_latency_us'),
    groupRecords: pct(stats.interval, 'mi_group_records'),
    connections: gauge(m, 'mi_connections'),
    sessions: (stats.parsers ?? []).reduce((a, p) => a + (p.sessions ?? 0), 0),
    logBytes: stats.writer?.log?.bytesOnDisk ?? gauge(m, 'mi_log_bytes'),
    segments: stats.writer?.log?.segments ?? 0,
    oldestRecordAgeSec: gauge(m, 'mi_log_oldest_record_age_seconds'),
    diskFreeBytes,
    ringUsedBytes: ring,
    subscribers: (stats.subscribers ?? []).map((s) => {
      const before = prevSubs.get(s.name)
      return {
        name: s.name,
        state: s.state,
        lag: s.lagRecords,
        delivered: s.delivered,
        ratePerSec: before ? rate(s.delivered, before.delivered) : 0,
        lastError: errorText(s.lastError),
      }
    }),
  }
}
