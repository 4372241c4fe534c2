import { openReader } from '@module-ingest/log'
import type { Logger } from '@module-ingest/subscriber-sdk'
import {
  resolveSubscriberConfigs,
  type SubscriberConfig,
  withPluginBatch,
  withPluginRateLimit,
} from './config.ts'
import { Dispatcher } from './dispatcher.ts'
import { hostEmit } from './emit.ts'
import { MI_ERR_SUBSCRIBER_UNKNOWN } from './errors.ts'
import type { LogReader } from './log-types.ts'
import { type CheckedPlugin, checkPlugin, type PluginRegistry } from './plugin.ts'
import { SubscriberPool } from './pool.ts'
import type { DurableSignal, HostEmit, HostEmitPacked, RuntimeMetrics, SubscriberStats } from './types.ts'

export interface StartSubscribersOptions {
  dataDir: string
  subscribers: SubscriberConfig[]
  /** pino (or anything with its call signatures and child()). */
  logger: Logger
  metrics?: RuntimeMetrics
  /** Appends derived records and dead letters to the log; resolve once appended. */
  emit: HostEmit
  /** Appends a batch's derived records packed (one buffer, no object per record); default: via `emit`. */
  emitPacked?: HostEmitPacked
  /**
   * Wake dispatchers as soon as the durable watermark moves: the writer's `log.durableSignal`
   * (Int32Array, handed to openReader) or a subscribe function (e.g. over log.onDurable).
   */
  durableSignal?: Int32Array | DurableSignal
  /** A reader already open on dataDir (the engine shares its own). Default: openReader(dataDir). */
  reader?: LogReader
  /** Where relative plugin paths and npm plugin names resolve from. Default process.cwd(). */
  baseDir?: string
  /** Short names for `use` that the host registers (its built-in subscribers). Default none. */
  plugins?: PluginRegistry
  /**
   * Plugin directories searched for npm plugin names after baseDir (each as `<dir>/node_modules`),
   * before `MI_PLUGIN_PATH`'s. For plugins installed next to a server: `npm i --prefix <dir> <pkg>`.
   */
  pluginPaths?: string[]
  /** Count what would be delivered: no workers, no deliveries, no emits, no commits. */
  dryRun?: boolean
  /** Commit offsets after this many completed batches… Default 16. */
  commitEveryBatches?: number
  /** …or this often. Default 1000. */
  commitIntervalMs?: number
  /** close(): how long in-flight batches may take to finish. Default 10000. */
  closeTimeoutMs?: number
}

export interface SubscriberRuntime {
  stats(): SubscriberStats[]
  /** Stop reading (in-flight batches finish); resolves once applied, stats() then shows it. */
  pause(name: string): Promise<void>
  /** Resume a paused subscriber, or re-check a failed one now. */
  resume(name: string): Promise<void>
  /** Resolves when `name` (or every subscriber) reached its `until` bound, or closed. */
  finished(name?: string): Promise<void>
  close(): Promise<void>
}

/**
 * Start one dispatcher and one piscina pool per enabled subscriber. Every plugin is loaded and
 * its options validated on this thread first: a bad entry fails the whole call (MI_ERR_PLUGIN_*
 * or MI_ERR_SUBSCRIBER_OPT_INVALID) before any worker starts.
 */
export async function startSubscribers(opts: StartSubscribersOptions): Promise<SubscriberRuntime> {
  const configs = resolveSubscriberConfigs(opts.subscribers)
  const baseDir = opts.baseDir ?? process.cwd()
  const checked: CheckedPlugin[] = []
  const entries = new Map(opts.subscribers.map((s) => [s.name, s]))
  for (const [i, cfg] of configs.entries()) {
    const plugin = await checkPlugin(cfg.use, cfg.options, baseDir, opts.plugins, opts.pluginPaths)
    checked.push(plugin)
    const batched = withPluginBatch(cfg, entries.get(cfg.name)?.batch, plugin.subscriber.batch)
    configs[i] = withPluginRateLimit(batched, plugin.subscriber.rateLimit)
  }

  const ownReader = opts.reader === undefined
  const sab = opts.durableSignal instanceof Int32Array ? opts.durableSignal : undefined
  const reader: LogReader = opts.reader ?? (await openLogReader(opts.dataDir, sab))
  const logger = opts.logger
  const closeTimeoutMs = opts.closeTimeoutMs ?? 10_000
  const dispatchers = new Map<string, Dispatcher>()

  configs.forEach((cfg, i) => {
    const log = logger.child({ subscriber: cfg.name })
    const pool = opts.dryRun
      ? null
      : new SubscriberPool(cfg, checked[i]!.specifier, {
          onPluginLog: (ev) => {
            const args: [object, string] = [{ plugin: true, ...(ev.obj ?? {}) }, ev.msg]
            log[ev.level](...args)
          },
          onPluginMetrics: (deltas) => {
            for (const d of deltas) opts.metrics?.pluginMetric?.(cfg.name, d.kind, d.name, d.values)
          },
          onPoolError: (err) => log.error({ err }, 'SubscriberPoolError'),
        })
    dispatchers.set(
      cfg.name,
      new Dispatcher({
        cfg,
        reader,
        pool,
        emit: hostEmit(opts.emit, opts.emitPacked),
        logger,
        metrics: opts.metrics,
        durableSignal: typeof opts.durableSignal === 'function' ? opts.durableSignal : undefined,
        commitEveryBatches: opts.commitEveryBatches ?? 16,
        commitIntervalMs: opts.commitIntervalMs ?? 1000,
      }),
    )
  })
  for (const d of dispatchers.values()) await d.start()

  const get = (name: string) => {
    const d = dispatchers.get(name)
    if (d === undefined) throw new MI_ERR_SUBSCRIBER_UNKNOWN(name)
    return d
  }
  let closing: Promise<void> | undefined
  return {
    stats: () => [...dispatchers.values()].map((d) => d.stats()),
    // Unknown names throw here, synchronously, as they always did.
    pause: (name) => {
      get(name).pause()
      return Promise.resolve()
    },
    resume: (name) => {
      get(name).resume()
      return Promise.resolve()
    },
    finished: async (name) => {
      if (name !== undefined) return get(name).finished
      await Promise.all([...dispatchers.values()].map((d) => d.finished))
    },
    close() {
      closing ??= (async () => {
        // Subscribers stop independently: one slow plugin close does not hold up the others.
        await Promise.all([...dispatchers.values()].map((d) => d.close(closeTimeoutMs)))
        if (ownReader) await reader.close?.()
      })()
      return closing
    },
  }
}

async function openLogReader(dataDir: string, durableSignal: Int32Array | undefined): Promise<LogReader> {
  return openReader(dataDir, durableSignal ? { durableSignal } : {})
}
