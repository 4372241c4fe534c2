import * as hdr from 'hdr-histogram-js'

// One place for how histograms are built and encoded, so worker snapshots always decode with the
// settings they were encoded with. 3 significant digits: p99 of 12 345 µs reads as 12 340..12 350.
// Plain JS (no WebAssembly): wasm histograms need destroy() and cannot be shared across threads.
const kBuild: hdr.BuildRequest = {
  bitBucketSize: 32,
  autoResize: true,
  lowestDiscernibleValue: 1,
  numberOfSignificantValueDigits: 3,
  useWebAssembly: false,
}

export type HdrHistogram = hdr.Histogram

export function newHdr(): HdrHistogram {
  return hdr.build(kBuild)
}

export function encodeHdr(h: HdrHistogram): string {
  return hdr.encodeIntoCompressedBase64(h)
}

export function decodeHdr(b64: string): HdrHistogram {
  return hdr.decodeFromCompressedBase64(b64, kBuild.bitBucketSize, false)
}

export interface HistogramStats {
  count: number
  /** Exact sum of recorded values (hdr-histogram keeps no sum). */
  sum: number
  p50: number
  p99: number
  p999: number
  max: number
}

export function statsOf(h: HdrHistogram, sum: number): HistogramStats {
  const count = h.totalCount
  if (count === 0) return { count: 0, sum: 0, p50: 0, p99: 0, p999: 0, max: 0 }
  return {
    count,
    sum,
    p50: h.getValueAtPercentile(50),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
  }
}
