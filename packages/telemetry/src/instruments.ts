import { MI_ERR_TELEMETRY_LABELS } from './errors.ts'
import { encodeHdr, type HdrHistogram, type HistogramStats, newHdr, statsOf } from './histogram.ts'
import type { HistogramUnit, Labels } from './metrics.ts'

/*
 * The instruments modules record into: Counter, Gauge, Histogram and the labelled value map behind
 * counters and gauges. They only hold values; naming rules, registration, snapshots, merging
 * across threads and export live in the registry (metrics.ts), which is why they are apart: the
 * hot-path recording code reads on its own, and metrics.ts stays about one job.
 */

const kSep = '\u0000'

class ValueMap {
  readonly labelNames: string[]
  readonly #name: string
  // key: label values joined by NUL → [label values, value]
  readonly map = new Map<string, [string[], number]>()

  constructor(name: string, labelNames: string[]) {
    this.#name = name
    this.labelNames = labelNames
  }

  key(labels: Labels | undefined): [string, string[]] {
    const names = this.labelNames
    if (names.length === 0) {
      if (labels && Object.keys(labels).length > 0)
        throw new MI_ERR_TELEMETRY_LABELS(this.#name, 'takes no labels')
      return ['', []]
    }
    if (!labels) throw new MI_ERR_TELEMETRY_LABELS(this.#name, `needs labels ${names.join(', ')}`)
    const values = new Array<string>(names.length)
    for (let i = 0; i < names.length; i++) {
      const v = labels[names[i] as string]
      if (v === undefined) throw new MI_ERR_TELEMETRY_LABELS(this.#name, `missing label ${names[i]}`)
      values[i] = String(v)
    }
    if (Object.keys(labels).length !== names.length)
      throw new MI_ERR_TELEMETRY_LABELS(this.#name, `labels must be exactly ${names.join(', ')}`)
    return [values.join(kSep), values]
  }

  add(labels: Labels | undefined, n: number): void {
    const [k, values] = this.key(labels)
    const cur = this.map.get(k)
    if (cur) cur[1] += n
    else this.map.set(k, [values, n])
  }

  set(labels: Labels | undefined, n: number): void {
    const [k, values] = this.key(labels)
    const cur = this.map.get(k)
    if (cur) cur[1] = n
    else this.map.set(k, [values, n])
  }

  get(labels: Labels | undefined): number {
    return this.map.get(this.key(labels)[0])?.[1] ?? 0
  }

  addRaw(values: string[], n: number): void {
    const k = values.join(kSep)
    const cur = this.map.get(k)
    if (cur) cur[1] += n
    else this.map.set(k, [values.slice(), n])
  }

  entries(): Array<[string[], number]> {
    return [...this.map.values()].map(([l, v]) => [l.slice(), v])
  }
}

/** A monotonically increasing count. Labelled counters take a labels object on every call. */
export class Counter {
  readonly name: string
  readonly help: string
  readonly values: ValueMap
  constructor(name: string, help: string, labelNames: string[]) {
    this.name = name
    this.help = help
    this.values = new ValueMap(name, labelNames)
  }
  inc(n?: number): void
  inc(labels: Labels, n?: number): void
  inc(a?: number | Labels, b?: number): void {
    if (typeof a === 'object') this.values.add(a, b ?? 1)
    else this.values.add(undefined, a ?? 1)
  }
  /** Bind label values once, for hot paths. */
  labels(labels: Labels): { inc(n?: number): void } {
    const [k, values] = this.values.key(labels)
    const map = this.values.map
    return {
      inc(n = 1) {
        const cur = map.get(k)
        if (cur) cur[1] += n
        else map.set(k, [values, n])
      },
    }
  }
  get(labels?: Labels): number {
    return this.values.get(labels)
  }
}

/** A value that goes up and down: set it, or give a `collect` callback read at export time. */
export class Gauge {
  readonly name: string
  readonly help: string
  readonly values: ValueMap
  readonly collect: ((g: Gauge) => void) | undefined
  constructor(name: string, help: string, labelNames: string[], collect?: (g: Gauge) => void) {
    this.name = name
    this.help = help
    this.values = new ValueMap(name, labelNames)
    this.collect = collect
  }
  set(value: number): void
  set(labels: Labels, value: number): void
  set(a: number | Labels, b?: number): void {
    if (typeof a === 'object') this.values.set(a, b ?? 0)
    else this.values.set(undefined, a)
  }
  inc(n = 1): void {
    this.values.add(undefined, n)
  }
  dec(n = 1): void {
    this.values.add(undefined, -n)
  }
  get(labels?: Labels): number {
    return this.values.get(labels)
  }
}

/** Latency or size distribution, recorded as integers in `unit` (microseconds for latency). */
export class Histogram {
  readonly name: string
  readonly help: string
  readonly unit: HistogramUnit
  hdr: HdrHistogram
  sum = 0
  constructor(name: string, help: string, unit: HistogramUnit) {
    this.name = name
    this.help = help
    this.unit = unit
    this.hdr = newHdr()
  }
  record(value: number): void {
    const v = value > 0 ? Math.round(value) : 0
    this.hdr.recordValue(v)
    this.sum += v
  }
  /** Record the time since `startNs` (from process.hrtime.bigint()), in this histogram's unit. */
  recordSince(startNs: bigint): void {
    const ns = Number(process.hrtime.bigint() - startNs)
    this.record(this.unit === 'ms' ? ns / 1e6 : ns / 1e3)
  }
  stats(): HistogramStats {
    return statsOf(this.hdr, this.sum)
  }
  #encoded: { of: HdrHistogram; count: number; sum: number; b64: string } | undefined
  /**
   * `hdr` compressed for a snapshot, encoded again only when it changed: a worker's registry is
   * pulled every second, and on an idle server nothing was recorded since (a deflate per
   * histogram per pull was most of an idle writer's JavaScript).
   */
  encoded(): string {
    const e = this.#encoded
    if (e !== undefined && e.of === this.hdr && e.count === this.hdr.totalCount && e.sum === this.sum)
      return e.b64
    const b64 = encodeHdr(this.hdr)
    this.#encoded = { of: this.hdr, count: this.hdr.totalCount, sum: this.sum, b64 }
    return b64
  }
}
