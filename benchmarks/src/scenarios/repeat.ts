import type { Row } from '../scenario.ts'

/**
 * Rows of a scenario run N times, alternated (the s3 scenario's MI_BENCH_S3_REPEAT > 1, labels
 * `<target>#<pass>`): each subscriber row's last pass also carries the median and the
 * spread of its ack p99 over its own pass's `ours` (`ack_p99_vs_ingest_only_median`, `…_all`),
 * and the `ours` rows' p99s (`ingest_only_p99_us_all`): one pair is noise on a shared 2-core host.
 */
export function summariseRepeats(rows: Row[]): void {
  const byLabel = new Map<string, Row[]>()
  for (const r of rows) {
    const label = r.target.replace(/#\d+$/, '')
    byLabel.set(label, [...(byLabel.get(label) ?? []), r])
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b)
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
  }
  for (const [label, rs] of byLabel) {
    const last = rs.at(-1)!
    if (label === 'ours') {
      last.extra.ingest_only_p99_us_all = rs.map((r) => r.ack?.p99_us ?? 0).join('/')
      continue
    }
    const ratios = rs
      .map((r) => Number(String(r.extra.ack_p99_vs_ingest_only ?? '').slice(1)))
      .filter((x) => x > 0)
    if (ratios.length === 0) continue
    last.extra.ack_p99_vs_ingest_only_median = `×${median(ratios).toFixed(2)}`
    last.extra.ack_p99_vs_ingest_only_all = ratios.map((x) => x.toFixed(2)).join('/')
    const rates = rs.map((r) => r.extra.steady_mb_per_s).filter((x): x is number => typeof x === 'number')
    if (rates.length) last.extra.steady_mb_per_s_median = median(rates)
  }
}
