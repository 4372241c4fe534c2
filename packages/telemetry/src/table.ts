import type { MetricsSummary } from './metrics.ts'

function labelSuffix(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}=${v}`)
  return parts.length ? `{${parts.join(',')}}` : ''
}

function fmt(n: number): string {
  return Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(2)
}

function columns(rows: string[][], rightFrom: number): string[] {
  const widths: number[] = []
  for (const r of rows) {
    for (let i = 0; i < r.length; i++) widths[i] = Math.max(widths[i] ?? 0, (r[i] as string).length)
  }
  return rows.map((r) =>
    r
      .map((c, i) => (i >= rightFrom ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  )
}

/** Render a metrics summary (possibly received over the admin socket) as a plain-text table. */
export function formatMetricsTable(summary: MetricsSummary): string {
  const lines: string[] = []
  const scalar = [...summary.counters, ...summary.gauges].map((s) => [
    `${s.name}${labelSuffix(s.labels)}`,
    fmt(s.value),
  ])
  if (scalar.length) {
    lines.push(...columns([['METRIC', 'VALUE'], ...scalar], 1))
  }
  if (summary.histograms.length) {
    if (lines.length) lines.push('')
    const rows = summary.histograms.map((h) => [
      h.name,
      fmt(h.count),
      fmt(h.p50),
      fmt(h.p99),
      fmt(h.p999),
      fmt(h.max),
    ])
    lines.push(...columns([['HISTOGRAM', 'COUNT', 'P50', 'P99', 'P999', 'MAX'], ...rows], 1))
  }
  if (!lines.length) lines.push('(no metrics)')
  return `${lines.join('\n')}\n`
}
