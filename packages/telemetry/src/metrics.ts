import { randomUUID } from 'node:crypto'
import {
  MI_ERR_TELEMETRY_LABELS,
  MI_ERR_TELEMETRY_METRIC_CONFLICT,
  MI_ERR_TELEMETRY_METRIC_NAME,
  MI_ERR_TELEMETRY_SNAPSHOT,
} from './errors.ts'
import { decodeHdr, encodeHdr, type HdrHistogram, type HistogramStats, newHdr, statsOf } from './histogram.ts'
import { toPrometheus } from './prometheus.ts'
import { formatMetricsTable } from './table.ts'
import { type HistogramTotal, HistogramWindow } from './window.ts'

/*
 * A metrics registry per thread. Worker threads keep their own registry and post `snapshot()`
 * (plain data, histograms as compressed base64) to the main thread, which keeps the latest
 * snapshot per worker (`mergeFrom`) and sums them with its own metrics when it exports.
 *
 * Snapshots are cumulative, so the main thread replaces a worker's previous snapshot rather than
 * adding to it. A restarted worker has a new registry `instance`: its old snapshot is folded into
 * the main registry first, so totals never go backwards.
 *
 * Names follow vector's template `<namespace>_<name>_<unit>[_total]`: counters end in `_total`,
 * histograms in their unit (`mi_flush_latency_us`).
 */

export type Labels = Record<string, string>
export type MetricType = 'counter' | 'gauge' | 'histogram'
export type HistogramUnit = 'us' | 'ms' | 'bytes' | 'records'

const kNameRe = /^[a-z_][a-z0-9_]*$/
const kLabelRe = /^[a-z_][a-z0-9_]*$/
const kSep = '\u0000'
/** Windows kept by key; the least recently named one goes first (a `top` that quit). */
const kMaxWindows = 16

export interface LabelledValues {
  labelNames: string[]
  /** [label values in labelNames order, value] */
  values: Array<[string[], number]>
}

export interface MetricsSnapshot {
  v: 1
  /** Random id of the registry that produced it; changes when a worker restarts. */
  instance: string
  counters: Array<{ name: string; help: string } & LabelledValues>
  gauges: Array<{ name: string; help: string } & LabelledValues>
  histograms: Array<{ name: string; help: string; unit: HistogramUnit; sum: number; hdr: string }>
}

/** Aggregated, human-oriented values: what `module-ingest stats --json` prints. */
export interface MetricsSummary {
  counters: Array<{ name: string; help: string; labels: Labels; value: number }>
  gauges: Array<{ name: string; help: string; labels: Labels; value: number }>
  histograms: Array<{ name: string; help: string; unit: HistogramUnit } & HistogramStats>
}

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

type AnyMetric = Counter | Gauge | Histogram

function typeOf(m: AnyMetric): MetricType {
  return m instanceof Counter ? 'counter' : m instanceof Gauge ? 'gauge' : 'histogram'
}

function checkName(name: string, type: MetricType, unit?: string): void {
  if (!kNameRe.test(name)) throw new MI_ERR_TELEMETRY_METRIC_NAME(name, 'use lower_snake_case')
  if (type === 'counter' && !name.endsWith('_total'))
    throw new MI_ERR_TELEMETRY_METRIC_NAME(name, 'counter names end in _total')
  if (type === 'histogram' && !name.endsWith(`_${unit}`))
    throw new MI_ERR_TELEMETRY_METRIC_NAME(name, `histogram names end in their unit (_${unit})`)
}

function checkLabels(name: string, labelNames: string[]): void {
  for (const l of labelNames) {
    if (!kLabelRe.test(l) || l.startsWith('__') || l === 'quantile')
      throw new MI_ERR_TELEMETRY_LABELS(name, `invalid label name ${l}`)
  }
  if (new Set(labelNames).size !== labelNames.length)
    throw new MI_ERR_TELEMETRY_LABELS(name, 'duplicate label names')
}

export class Metrics {
  readonly instance = randomUUID()
  readonly #metrics = new Map<string, AnyMetric>()
  // source name → its latest snapshot
  readonly #sources = new Map<string, MetricsSnapshot>()
  // window key → window, least recently named first
  readonly #windows = new Map<string, HistogramWindow>()

  #register<M extends AnyMetric>(name: string, type: MetricType, make: () => M, same: (m: M) => boolean): M {
    const existing = this.#metrics.get(name)
    if (existing) {
      // Registering the same metric twice returns it: modules can declare what they use.
      if (typeOf(existing) === type && same(existing as M)) return existing as M
      throw new MI_ERR_TELEMETRY_METRIC_CONFLICT(name, typeOf(existing))
    }
    const m = make()
    this.#metrics.set(name, m)
    return m
  }

  counter(name: string, help: string, labelNames: string[] = []): Counter {
    checkName(name, 'counter')
    checkLabels(name, labelNames)
    return this.#register(
      name,
      'counter',
      () => new Counter(name, help, labelNames),
      (m) => m.values.labelNames.join() === labelNames.join(),
    )
  }

  gauge(
    name: string,
    help: string,
    options: { labels?: string[]; collect?: (g: Gauge) => void } = {},
  ): Gauge {
    const labelNames = options.labels ?? []
    checkName(name, 'gauge')
    checkLabels(name, labelNames)
    return this.#register(
      name,
      'gauge',
      () => new Gauge(name, help, labelNames, options.collect),
      (m) => m.values.labelNames.join() === labelNames.join(),
    )
  }

  histogram(name: string, help: string, options: { unit: HistogramUnit } = { unit: 'us' }): Histogram {
    checkName(name, 'histogram', options.unit)
    return this.#register(
      name,
      'histogram',
      () => new Histogram(name, help, options.unit),
      (m) => m.unit === options.unit,
    )
  }

  get(name: string): AnyMetric | undefined {
    return this.#metrics.get(name)
  }

  /** This registry's own metrics (not merged sources), as plain data for postMessage. */
  snapshot(): MetricsSnapshot {
    const snap: MetricsSnapshot = { v: 1, instance: this.instance, counters: [], gauges: [], histograms: [] }
    for (const m of this.#metrics.values()) {
      if (m instanceof Counter) {
        snap.counters.push({
          name: m.name,
          help: m.help,
          labelNames: m.values.labelNames,
          values: m.values.entries(),
        })
      } else if (m instanceof Gauge) {
        m.collect?.(m)
        snap.gauges.push({
          name: m.name,
          help: m.help,
          labelNames: m.values.labelNames,
          values: m.values.entries(),
        })
      } else {
        snap.histograms.push({ name: m.name, help: m.help, unit: m.unit, sum: m.sum, hdr: m.encoded() })
      }
    }
    return snap
  }

  /** Add a snapshot into this registry's own values, once (counters, gauges and histograms add up). */
  merge(snapshot: MetricsSnapshot): void {
    if (snapshot?.v !== 1) throw new MI_ERR_TELEMETRY_SNAPSHOT(`unsupported snapshot version ${snapshot?.v}`)
    for (const c of snapshot.counters) {
      const m = this.counter(c.name, c.help, c.labelNames)
      for (const [labels, v] of c.values) m.values.addRaw(labels, v)
    }
    for (const g of snapshot.gauges) {
      const m = this.gauge(g.name, g.help, { labels: g.labelNames })
      for (const [labels, v] of g.values) m.values.addRaw(labels, v)
    }
    for (const h of snapshot.histograms) {
      const m = this.histogram(h.name, h.help, { unit: h.unit })
      m.hdr.add(decodeHdr(h.hdr))
      m.sum += h.sum
    }
  }

  /**
   * Keep `snapshot` as the latest state of `source` (e.g. 'parser-0'). Exports sum this registry
   * with the latest snapshot of every source. A snapshot from a new instance of the same source
   * (restarted worker) folds the previous one in first, so counters never go backwards.
   */
  mergeFrom(source: string, snapshot: MetricsSnapshot): void {
    if (snapshot?.v !== 1) throw new MI_ERR_TELEMETRY_SNAPSHOT(`unsupported snapshot version ${snapshot?.v}`)
    const prev = this.#sources.get(source)
    if (prev && prev.instance !== snapshot.instance) this.merge(prev)
    this.#sources.set(source, snapshot)
  }

  /** Fold a source's last snapshot into this registry and forget the source (a worker that exited). */
  retire(source: string): void {
    const prev = this.#sources.get(source)
    if (!prev) return
    this.merge(prev)
    this.#sources.delete(source)
  }

  get sources(): string[] {
    return [...this.#sources.keys()]
  }

  /** Everything (own + sources) summed into one registry: what the exporters read. */
  #aggregate(): Metrics {
    const agg = new Metrics()
    agg.merge(this.snapshot())
    for (const s of this.#sources.values()) agg.merge(s)
    return agg
  }

  /**
   * The per-interval reader named `key`, started when first named: each `read()` returns what
   * every histogram, own and sources, recorded since that reader's previous read (see window.ts).
   * One key per reader ('dashboard', one per `top`); at most 16 are kept, the least recently
   * named dropped first (named again, it starts over, empty).
   */
  window(key: string): HistogramWindow {
    let w = this.#windows.get(key)
    if (w) this.#windows.delete(key)
    else w = new HistogramWindow(() => this.#histogramTotals())
    this.#windows.set(key, w)
    if (this.#windows.size > kMaxWindows) this.#windows.delete(this.#windows.keys().next().value as string)
    return w
  }

  /** Every histogram summed over own + sources, in fresh histograms the caller may keep. */
  #histogramTotals(): HistogramTotal[] {
    const own = this.#sources.size === 0
    const agg = own ? this : this.#aggregate()
    const out: HistogramTotal[] = []
    for (const m of agg.#metrics.values()) {
      if (!(m instanceof Histogram)) continue
      let hdr = m.hdr
      if (own) {
        hdr = newHdr() // a copy: this registry's own histograms keep changing
        hdr.add(m.hdr)
      }
      out.push({ name: m.name, unit: m.unit, hdr, sum: m.sum })
    }
    return out
  }

  /** Aggregated values with histogram percentiles, as plain JSON. */
  summary(): MetricsSummary {
    const out: MetricsSummary = { counters: [], gauges: [], histograms: [] }
    const label = (names: string[], values: string[]) =>
      Object.fromEntries(names.map((n, i) => [n, values[i] as string]))
    const agg = this.#sources.size === 0 ? this : this.#aggregate()
    const names = [...agg.#metrics.keys()].sort()
    for (const name of names) {
      const m = agg.#metrics.get(name) as AnyMetric
      if (m instanceof Histogram) {
        out.histograms.push({ name, help: m.help, unit: m.unit, ...m.stats() })
        continue
      }
      if (m instanceof Gauge && agg === this) m.collect?.(m)
      const list = m instanceof Counter ? out.counters : out.gauges
      const entries = m.values.entries()
      if (entries.length === 0 && m.values.labelNames.length === 0) entries.push([[], 0])
      for (const [values, value] of entries.sort((a, b) => a[0].join().localeCompare(b[0].join())))
        list.push({ name, help: m.help, labels: label(m.values.labelNames, values), value })
    }
    return out
  }

  /** Prometheus text exposition format (version 0.0.4). */
  toPrometheus(): string {
    return toPrometheus(this.summary())
  }

  /** A human-readable table (what `module-ingest stats` prints). */
  toTable(): string {
    return formatMetricsTable(this.summary())
  }
}
