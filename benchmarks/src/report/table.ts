import type { Row } from '../scenario.ts'

/** Formatting shared by the stdout table and BENCHMARKS.md. */

const int = (n: number) => Math.round(n).toLocaleString('en-US')
const fixed = (n: number, d: number) => n.toFixed(d)
/** A note's number: integers (and anything ≥ 100) grouped, small fractions (MB/s, ms) kept. */
const note = (n: number) =>
  Number.isInteger(n) || Math.abs(n) >= 100 ? int(n) : n.toFixed(Math.abs(n) < 10 ? 2 : 1)

export const kColumns = [
  'scenario',
  'target',
  'records/s',
  'MB/s',
  'ack p50 µs',
  'ack p99 µs',
  'ack p99.9 µs',
  'ack max µs',
  'flush p50 µs',
  'flush p99 µs',
  'flush p99.9 µs',
  'RSS peak MiB',
  'CPU s',
  'errors',
  'notes',
] as const

export function cells(r: Row): string[] {
  const notes = Object.entries(r.extra)
    .filter(([k]) => k !== 'version')
    .map(([k, v]) => `${k}=${typeof v === 'number' ? note(v) : v}`)
  if (r.skipped) notes.unshift(`skipped: ${r.skipped}`)
  const dash = '–'
  return [
    r.scenario,
    String(r.target),
    r.msgs_per_s === null ? dash : int(r.msgs_per_s),
    r.mb_per_s === null ? dash : fixed(r.mb_per_s, 1),
    r.ack ? int(r.ack.p50_us) : dash,
    r.ack ? int(r.ack.p99_us) : dash,
    r.ack ? int(r.ack.p999_us) : dash,
    r.ack ? int(r.ack.max_us) : dash,
    r.flush ? int(r.flush.p50_us) : dash,
    r.flush ? int(r.flush.p99_us) : dash,
    r.flush ? int(r.flush.p999_us) : dash,
    r.rss_peak_mib === null ? dash : int(r.rss_peak_mib),
    r.cpu_s === null || Number.isNaN(r.cpu_s) ? dash : fixed(r.cpu_s, 2),
    String(r.errors),
    notes.join(', '),
  ]
}

const kNumeric = new Set([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13])

export function textTable(rows: Row[]): string {
  const body = rows.map(cells)
  const head = [...kColumns] as string[]
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((c) => (i === 14 ? 0 : c[i]!.length))))
  const line = (c: string[]) =>
    c
      .map((x, i) => (i === 14 ? x : kNumeric.has(i) ? x.padStart(widths[i]!) : x.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n')
}

/** ours/peer throughput per scenario: `always` against Redis (both fsync before the reply),
 * `interval` against JetStream (neither waits for the disk), and `always` against JetStream too. */
export function ratios(rows: Row[]): string[] {
  const out: string[] = []
  const scenarios = [...new Set(rows.map((r) => r.scenario))]
  for (const s of scenarios) {
    const get = (t: string) =>
      rows.find((r) => r.scenario === s && r.target === t && !r.skipped && r.msgs_per_s)
    const parts: string[] = []
    const pair = (ours: string, peer: string) => {
      const a = get(ours)
      const b = get(peer)
      if (a?.msgs_per_s && b?.msgs_per_s)
        parts.push(`${ours}/${peer} ×${(a.msgs_per_s / b.msgs_per_s).toFixed(2)}`)
    }
    pair('ours', 'redis')
    pair('ours+kv', 'redis')
    pair('ours-base', 'redis')
    pair('ours', 'ours-base')
    pair('ours-interval', 'nats-js-lean')
    pair('ours-interval', 'nats-js')
    pair('ours', 'nats-js-lean')
    if (parts.length) out.push(`${s}: ${parts.join(', ')}`)
  }
  return out
}
