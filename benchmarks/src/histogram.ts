import * as hdr from 'hdr-histogram-js'

/** Latency summary in microseconds; field names carry the unit (STYLE.md §8). */
export interface LatencySummary {
  count: number
  p50_us: number
  p99_us: number
  p999_us: number
  max_us: number
}

export const kEmptyLatency: LatencySummary = { count: 0, p50_us: 0, p99_us: 0, p999_us: 0, max_us: 0 }

/** Merge the generator children's compressed histograms and summarise them. */
export function mergeHistograms(encoded: string[]): LatencySummary {
  const total = hdr.build({
    bitBucketSize: 64,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  })
  for (const b64 of encoded) total.add(hdr.decodeFromCompressedBase64(b64, 64, false))
  if (total.totalCount === 0) return { ...kEmptyLatency }
  return {
    count: total.totalCount,
    p50_us: total.getValueAtPercentile(50),
    p99_us: total.getValueAtPercentile(99),
    p999_us: total.getValueAtPercentile(99.9),
    max_us: total.maxValue,
  }
}
