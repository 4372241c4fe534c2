import type { SubscriberContext, SubscriberRecord } from '@module-ingest/subscriber-sdk'
import { defineSubscriber } from '@module-ingest/subscriber-sdk'
import { type AnomalyConfig, anomalyConfigSchema } from './config.ts'
import { parseValue } from './parse.ts'
import { RollingStats } from './rolling.ts'

/** The JSON body of each record emitted to `outputStream`. */
export interface AnomalyScore {
  /** The scored record. */
  lsn: number
  module: string
  core: string
  stream: string
  /** Producer timestamp of the scored record, µs since epoch (a decimal string above 2^53-1, as recordToJson). */
  ts: number | string
  value: number
  mean: number
  stddev: number
  z: number
}

interface KeyState {
  stats: RollingStats
  /** Highest lsn already folded into `stats`: a redelivered record must not count twice. */
  appliedLsn: number
  /** Scores emitted for recent lsns, so a redelivered record re-emits the same score. */
  recent: Map<number, string>
}

interface InstanceState {
  keys: Map<string, KeyState>
  config: AnomalyConfig
}

// Module scope is per worker thread; the host runs one instance per name per worker, and handle
// calls of one instance never overlap. init() (re)creates the instance's state.
const instances = new Map<string, InstanceState>()

function keyState(state: InstanceState, r: SubscriberRecord): KeyState {
  const key = `${r.module}\u0000${r.stream}`
  let ks = state.keys.get(key)
  if (ks) {
    // Map order is insertion order: re-inserting marks the key as recently seen.
    state.keys.delete(key)
  } else {
    ks = { stats: new RollingStats(state.config.windowSize), appliedLsn: 0, recent: new Map() }
    if (state.keys.size >= state.config.maxKeys) state.keys.delete(state.keys.keys().next().value!)
  }
  state.keys.set(key, ks)
  return ks
}

function score(state: InstanceState, r: SubscriberRecord, ctx: SubscriberContext<AnomalyConfig>) {
  const { config } = state
  const ks = keyState(state, r)
  if (r.lsn <= ks.appliedLsn) {
    // At-least-once redelivery: the stats already hold this value. Re-emit what the first
    // delivery emitted (its emits were discarded with the failed attempt), nothing else.
    const previous = ks.recent.get(r.lsn)
    if (previous !== undefined) ctx.emit(config.outputStream, previous)
    ctx.metrics.counter('redelivered_records_total').inc()
    return
  }
  const value = parseValue(r.body)
  if (value === undefined) {
    ctx.metrics.counter('unparsed_records_total').inc()
    return
  }
  const { stats } = ks
  // Score against the window before the value joins it, so an outlier cannot dilute itself.
  if (stats.count >= config.minSamples) {
    const mean = stats.mean
    const stddev = stats.stddev
    const z =
      stddev === 0
        ? value === mean
          ? 0
          : Number.POSITIVE_INFINITY * Math.sign(value - mean)
        : (value - mean) / stddev
    if (Math.abs(z) >= config.threshold) {
      const out: AnomalyScore = {
        lsn: r.lsn,
        module: r.module,
        core: r.core,
        stream: r.stream,
        ts: typeof r.ts === 'bigint' ? r.ts.toString() : r.ts,
        value,
        mean,
        stddev,
        z,
      }
      // JSON has no Infinity: a flat window makes any change "infinitely" anomalous; cap it.
      const body = JSON.stringify(out, (_k, v) =>
        v === Number.POSITIVE_INFINITY
          ? Number.MAX_VALUE
          : v === Number.NEGATIVE_INFINITY
            ? -Number.MAX_VALUE
            : v,
      )
      ctx.emit(config.outputStream, body)
      ks.recent.set(r.lsn, body)
      if (ks.recent.size > 64) ks.recent.delete(ks.recent.keys().next().value!)
      ctx.metrics.counter('anomalies_total').inc()
    }
  }
  stats.push(value)
  ks.appliedLsn = r.lsn
  ctx.metrics.counter('scored_records_total').inc()
}

/** Rolling z-score per (module, stream); emits scores with |z| ≥ threshold to `outputStream`. */
export const anomalySubscriber = defineSubscriber({
  name: 'anomaly-score',
  version: '0.1.0',
  configSchema: anomalyConfigSchema,
  init(ctx) {
    instances.set(ctx.name, { keys: new Map(), config: ctx.config })
    ctx.logger.info({ config: ctx.config }, 'anomaly scoring ready')
  },
  handle(batch, ctx) {
    const state = instances.get(ctx.name)
    if (!state) throw new Error(`anomaly-score ${ctx.name}: handle() before init()`)
    for (const r of batch) {
      // Never score our own output, even when subscribed to every stream.
      if (r.stream === state.config.outputStream) continue
      score(state, r, ctx)
    }
    ctx.metrics.gauge('tracked_keys').set(state.keys.size)
  },
  close(ctx) {
    instances.delete(ctx.name)
  },
})
