/**
 * Subscribers on /metrics: the runtime's callbacks and stats mapped onto the server's registry.
 *
 * - per subscriber: `mi_subscriber_state{subscriber,state}` (1 for the current state, the usual
 *   Prometheus encoding of an enum; `failed` after a `*_FATAL` error), lag, delivered records,
 *   retries, dead-lettered records, failed deliveries by error code, worker restarts;
 * - plugin metrics (`ctx.metrics` in a plugin, collected in its worker threads and sent across with
 *   each batch result) as `mi_plugin_<instance>_<name>`, the instance name made Prometheus-safe.
 */
import {
  type RuntimeMetrics,
  SUBSCRIBER_STATES,
  type SubscriberStats,
} from '@module-ingest/subscriber-runtime'
import type { Counter, Gauge, Histogram, HistogramUnit, Logger, Metrics } from '@module-ingest/telemetry'
import { loopDelayMetric } from '@module-ingest/telemetry/loop-delay'

const kUnits: HistogramUnit[] = ['us', 'ms', 'bytes', 'records']

export interface SubscriberMetrics {
  /** Hand to startSubscribers({ metrics }). */
  readonly runtime: RuntimeMetrics
  /** Where the scrape-time gauges (state, lag) read from; set once the runtime started. */
  source(stats: () => SubscriberStats[]): void
}

export function subscriberMetrics(metrics: Metrics, logger: Logger): SubscriberMetrics {
  let stats: () => SubscriberStats[] = () => []
  metrics.gauge('mi_subscriber_state', 'Subscriber state (1 = the current one)', {
    labels: ['subscriber', 'state'],
    collect: (g) => {
      for (const s of stats())
        for (const state of SUBSCRIBER_STATES) g.set({ subscriber: s.name, state }, +(s.state === state))
    },
  })
  metrics.gauge('mi_subscriber_lag_records', 'Committed records a subscriber has not consumed', {
    labels: ['subscriber'],
    collect: (g) => {
      for (const s of stats()) g.set({ subscriber: s.name }, s.lagRecords)
    },
  })
  const delivered = metrics.counter(
    'mi_subscriber_delivered_records_total',
    'Records delivered (handle() resolved)',
    ['subscriber'],
  )
  const retries = metrics.counter('mi_subscriber_retries_total', 'Batch deliveries retried', ['subscriber'])
  const deadLettered = metrics.counter('mi_subscriber_dead_lettered_records_total', 'Records dead-lettered', [
    'subscriber',
  ])
  const errors = metrics.counter('mi_subscriber_errors_total', 'Failed batch deliveries, by error code', [
    'subscriber',
    'code',
  ])
  const restarts = metrics.counter('mi_subscriber_worker_restarts_total', 'Plugin worker threads replaced', [
    'subscriber',
  ])

  // Plugin metrics are registered on first sight; a name our registry rejects is dropped (once
  // logged) rather than failing the batch that reported it.
  const plugin = new Map<string, Counter | Gauge | Histogram | null>()
  let loopDelay: Histogram | undefined
  const pluginMetric = (
    subscriber: string,
    kind: 'counter' | 'histogram' | 'gauge',
    name: string,
    values: number[],
  ) => {
    const full = `mi_plugin_${safe(subscriber)}_${safe(name)}`
    const key = `${kind} ${full}`
    let m = plugin.get(key)
    if (m === undefined) {
      try {
        const help = `Plugin metric ${name} of subscriber ${subscriber}`
        if (kind === 'counter') m = metrics.counter(full.endsWith('_total') ? full : `${full}_total`, help)
        else if (kind === 'gauge') m = metrics.gauge(full, help)
        else m = metrics.histogram(full, help, { unit: kUnits.find((u) => full.endsWith(`_${u}`)) ?? 'us' })
      } catch (err) {
        m = null
        logger.warn(
          { event: 'SubscriberMetricDroppedError', subscriber, metric: name, err: (err as Error).message },
          'plugin metric not exported',
        )
      }
      plugin.set(key, m)
    }
    if (m === null) return
    for (const v of values) {
      if (kind === 'counter') (m as Counter).inc(v)
      else if (kind === 'gauge') (m as Gauge).set(v)
      else (m as Histogram).record(Math.max(0, Math.round(v)))
    }
  }

  return {
    runtime: {
      batchDelivered: (subscriber, records) => delivered.inc({ subscriber }, records),
      batchRetried: (subscriber, code) => {
        retries.inc({ subscriber })
        errors.inc({ subscriber, code })
      },
      batchDeadLettered: (subscriber, records, code) => {
        deadLettered.inc({ subscriber }, records)
        errors.inc({ subscriber, code })
      },
      workerRestarted: (subscriber) => restarts.inc({ subscriber }),
      // A *_FATAL failure (state failed) and each re-check that fails again, by the plugin's code.
      subscriberFailed: (subscriber, code) => errors.inc({ subscriber, code }),
      pluginMetric,
      // The runtime's own thread (subscriberRuntime.thread), beside mi_main_loop_delay_us.
      loopDelay: (us) => {
        if (loopDelay === undefined) {
          const { name, help } = loopDelayMetric('subscribers')
          loopDelay = metrics.histogram(name, help, { unit: 'us' })
        }
        loopDelay.record(us)
      },
    },
    source(fn) {
      stats = fn
    },
  }
}

/** Prometheus names are [a-z0-9_] here: instance names may hold '.' and '-'. */
function safe(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_]/g, '_')
}
