import type { MetricsSummary } from '@module-ingest/telemetry'

/** One `stats` reply, as far as the watch view reads it; everything else is ignored. */
export interface WatchSample {
  atMs: number
  stats: {
    metrics?: MetricsSummary
    subscribers?: unknown
    connections?: unknown
    [k: string]: unknown
  }
}

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)
const fmt = (n: number | undefined) =>
  n === undefined ? '-' : Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(1)

function table(rows: string[][], rightFrom: number): string {
  const widths: number[] = []
  for (const r of rows) for (let i = 0; i < r.length; i++) widths[i] = Math.max(widths[i] ?? 0, r[i]!.length)
  return rows
    .map((r) =>
      r
        .map((c, i) => (i >= rightFrom ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

const key = (name: string, labels: Record<string, string>) =>
  `${name}${
    Object.keys(labels).length
      ? `{${Object.entries(labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(',')}}`
      : ''
  }`

/**
 * The `stats --watch` screen: counters with their rate since the previous refresh, gauges, and one
 * row per subscriber (state, delivered and its rate, lag, retries, dead letters, last error).
 */
export function formatWatch(cur: WatchSample, prev: WatchSample | undefined, intervalMs: number): string {
  const dt = prev ? (cur.atMs - prev.atMs) / 1000 : 0
  const rate = (now: number | undefined, before: number | undefined) =>
    dt > 0 && now !== undefined && before !== undefined ? (now - before) / dt : undefined
  const parts = [
    `module-ingest stats  ${new Date(cur.atMs).toISOString()}  (every ${intervalMs / 1000} s; Ctrl-C to stop)`,
  ]

  const m = cur.stats.metrics
  if (m) {
    const before = new Map((prev?.stats.metrics?.counters ?? []).map((c) => [key(c.name, c.labels), c.value]))
    const rows = [['METRIC', 'VALUE', 'RATE/s']]
    for (const c of m.counters) {
      const k = key(c.name, c.labels)
      rows.push([k, fmt(c.value), fmt(rate(c.value, before.get(k)))])
    }
    for (const g of m.gauges) rows.push([key(g.name, g.labels), fmt(g.value), ''])
    if (rows.length > 1) parts.push(table(rows, 1))
  }

  const subs = Array.isArray(cur.stats.subscribers)
    ? (cur.stats.subscribers as Array<Record<string, unknown>>)
    : []
  if (subs.length) {
    const before = new Map(
      (Array.isArray(prev?.stats.subscribers)
        ? (prev.stats.subscribers as Array<Record<string, unknown>>)
        : []
      ).map((s) => [String(s.name), num(s.delivered)]),
    )
    const rows = [['SUBSCRIBER', 'STATE', 'DELIVERED', 'RATE/s', 'LAG', 'RETRIES', 'DLQ', 'LAST ERROR']]
    for (const s of subs) {
      const last = s.lastError as { code?: string } | null | undefined
      rows.push([
        String(s.name),
        String(s.state ?? '-'),
        fmt(num(s.delivered)),
        fmt(rate(num(s.delivered), before.get(String(s.name)))),
        fmt(num(s.lagRecords)),
        fmt(num(s.retries)),
        fmt(num(s.deadLettered)),
        last?.code ?? '',
      ])
    }
    parts.push(table(rows, 2))
  }
  return `${parts.join('\n\n')}\n`
}
