import type { Labels, MetricsSummary } from './metrics.ts'

/*
 * Prometheus text exposition format 0.0.4.
 *
 * Histograms are exported as summaries: hdr-histogram gives exact-to-3-digits quantiles, and the
 * main thread has already merged every worker's histogram, so the usual objection to summaries
 * (quantiles cannot be aggregated across instances) does not bite within one process; a classic
 * Prometheus histogram would need fixed buckets chosen up front and would lose the tail. We add
 * quantile="1" (the maximum), which the format allows, so dashboards see the worst case.
 * Values stay in the unit the name carries (µs), as our naming convention requires.
 */

export const kPrometheusContentType = 'text/plain; version=0.0.4; charset=utf-8'

const escapeHelp = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
const escapeLabel = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')

function labelText(labels: Labels, extra?: [string, string]): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`)
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`)
  return parts.length ? `{${parts.join(',')}}` : ''
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Number.POSITIVE_INFINITY) return '+Inf'
  if (v === Number.NEGATIVE_INFINITY) return '-Inf'
  return String(v)
}

export function toPrometheus(summary: MetricsSummary): string {
  const out: string[] = []
  const header = (name: string, help: string, type: string) => {
    out.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`)
  }
  for (const [list, type] of [
    [summary.counters, 'counter'],
    [summary.gauges, 'gauge'],
  ] as const) {
    let last = ''
    for (const s of list) {
      if (s.name !== last) header(s.name, s.help, type)
      last = s.name
      out.push(`${s.name}${labelText(s.labels)} ${num(s.value)}`)
    }
  }
  for (const h of summary.histograms) {
    header(h.name, h.help, 'summary')
    const empty = h.count === 0
    for (const [q, v] of [
      ['0.5', h.p50],
      ['0.99', h.p99],
      ['0.999', h.p999],
      ['1', h.max],
    ] as const) {
      // An empty summary reports NaN quantiles (the Prometheus client libraries' convention).
      out.push(`${h.name}${labelText({}, ['quantile', q])} ${empty ? 'NaN' : num(v)}`)
    }
    out.push(`${h.name}_sum ${num(h.sum)}`, `${h.name}_count ${num(h.count)}`)
  }
  return out.length ? `${out.join('\n')}\n` : ''
}
