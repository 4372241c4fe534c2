import { randomUUID } from 'node:crypto'
import {
  MI_ERR_TELEMETRY_LABELS,
  MI_ERR_TELEMETRY_METRIC_CONFLICT,
  MI_ERR_TELEMETRY_METRIC_NAME,
  MI_ERR_TELEMETRY_SNAPSHOT,
} from './errors.ts'
import { decodeHdr, type HistogramStats, newHdr } from './histogram.ts'
import { Counter, Gauge, Histogram } from './instruments.ts'
import { toPrometheus } from './prometheus.ts'
import { formatMetricsTable } from './table.ts'
import { type HistogramTotal, HistogramWindow } from './window.ts'

// Re-exported so index.ts and everything importing them from './metrics.ts' stay as they were.
export { Counter, Gauge, Histogram }

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
