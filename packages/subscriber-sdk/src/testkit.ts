/**
 * Test kit: run a subscriber the way the host's runtime does — validated config, one context per
 * instance, batches with one shared body buffer, emits committed only when `handle` resolves,
 * redelivery with a growing `attempt` — without a server or worker threads.
 *
 *   const h = createTestHarness(sub, { config: { threshold: 3 } })
 *   await h.init()
 *   const emitted = await h.deliver([{ body: '42' }, { body: { value: 7 } }])
 *   await h.close()
 */
import { validateSubscriberConfig } from './config.ts'
import { isSubscriber } from './define.ts'
import { createEmitBuffer } from './emit.ts'
import { MI_ERR_PLUGIN_INVALID, MI_ERR_PLUGIN_SIMULATED_FAILURE } from './errors.ts'
import type {
  EmittedRecord,
  Logger,
  Subscriber,
  SubscriberContext,
  SubscriberMetrics,
  SubscriberRecord,
} from './types.ts'

/** A record for `deliver`: every field optional; a body may be a string or a JSON-able value. */
export type PartialRecord = Partial<Omit<SubscriberRecord, 'body'>> & {
  body?: Uint8Array | string | number | boolean | object | null
}

export interface HarnessOptions {
  /** Raw options, as in the server config's `subscribers[].options`; validated by `init()`. */
  config?: unknown
  /** Instance name (ctx.name); defaults to the subscriber's name. */
  name?: string
  /** Defaults for records passed to `deliver` (stream 'test', module 'test-module', …). */
  defaults?: Partial<Omit<SubscriberRecord, 'body' | 'lsn'>>
  /** Mirror log lines to the console (also `MI_TESTKIT_LOG=1`). */
  printLogs?: boolean
}

export interface HarnessEmitted extends EmittedRecord {
  /** The body decoded as UTF-8. */
  readonly text: string
  /** lsn of the last record of the batch that emitted it. */
  readonly batchLastLsn: number
}

export interface LogEntry {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'
  msg: string | undefined
  /** Merged bindings (child loggers) and the object argument, if any. */
  obj: Record<string, unknown>
}

export interface MetricsSnapshot {
  counters: Record<string, number>
  gauges: Record<string, number>
  histograms: Record<string, number[]>
}

export interface Delivery {
  attempt: number
  lsns: number[]
  outcome: 'ok' | 'failed' | 'simulated-failure'
  error?: unknown
}

export interface DeliverOptions {
  /** Deliver again (attempt 2, 3 …) after a failure, up to this many attempts in all. Default 1. */
  maxAttempts?: number
}

export interface FailOptions {
  /**
   * 'after' (default): `handle` runs, then the delivery is lost as if the worker crashed or timed
   * out after its side effects — the at-least-once case your plugin must tolerate.
   * 'before': the delivery fails before `handle` is called.
   */
  when?: 'before' | 'after'
  error?: unknown
}

export interface TestHarness<C> {
  /** Validate the config, run `init` and `hooks.onReady`. */
  init(): Promise<void>
  /**
   * Deliver one batch: fill in record defaults, call `handle` and resolve with what it emitted.
   * Rejects with handle's error once `maxAttempts` deliveries failed (emits discarded).
   */
  deliver(records: readonly PartialRecord[], options?: DeliverOptions): Promise<HarnessEmitted[]>
  /** Deliver the last batch again with attempt + 1 (as the runtime does after a failure). */
  redeliver(options?: DeliverOptions): Promise<HarnessEmitted[]>
  /** Make the next `count` delivery attempts fail (see FailOptions). */
  failNext(count?: number, options?: FailOptions): void
  /** Abort ctx.signal, as the host does on shutdown or when it gives up on a batch. */
  abort(reason?: unknown): void
  /** Run `close` and `hooks.onClose`; aborts the signal first. Idempotent. */
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
  /** Records emitted by batches that succeeded, in order. */
  readonly emitted: HarnessEmitted[]
  readonly logs: LogEntry[]
  /** Every attempt, successful or not. */
  readonly deliveries: Delivery[]
  /** A copy of the metrics as they are now. */
  readonly metrics: MetricsSnapshot
  /** The validated config (after `init`). */
  readonly config: C
  /** Errors passed to `hooks.onError`. */
  readonly errors: unknown[]
}

const kLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const
const decoder = new TextDecoder()
const encoder = new TextEncoder()

function createLogger(sink: LogEntry[], bindings: Record<string, unknown>, print: boolean): Logger {
  const logger = { child: (b: Record<string, unknown>) => createLogger(sink, { ...bindings, ...b }, print) }
  for (const level of kLevels) {
    ;(logger as Record<string, unknown>)[level] = (first: unknown, ...rest: unknown[]) => {
      let obj = bindings
      let msg: string | undefined
      if (typeof first === 'string') {
        msg = rest.length ? formatMsg(first, rest) : first
      } else {
        obj = { ...bindings, ...(first instanceof Error ? { err: first } : (first as object)) }
        const [m, ...args] = rest
        msg = typeof m === 'string' ? formatMsg(m, args) : undefined
      }
      const entry: LogEntry = { level, msg, obj: { ...obj } }
      sink.push(entry)
      if (print) console.error(`[${level}]`, msg ?? '', entry.obj)
    }
  }
  return logger as Logger
}

function formatMsg(template: string, args: unknown[]): string {
  let i = 0
  return template.replace(/%[sdifjoO%]/g, (m) => (m === '%%' ? '%' : i < args.length ? String(args[i++]) : m))
}

function toBody(body: PartialRecord['body']): Uint8Array {
  if (body instanceof Uint8Array) return body
  if (typeof body === 'string') return encoder.encode(body)
  if (body === undefined) return new Uint8Array(0)
  return encoder.encode(JSON.stringify(body))
}

/** Run a subscriber without a server. See the module comment for an example. */
export function createTestHarness<C>(
  subscriber: Subscriber<C>,
  options: HarnessOptions = {},
): TestHarness<C> {
  if (!isSubscriber(subscriber)) {
    throw new MI_ERR_PLUGIN_INVALID('createTestHarness() needs the object defineSubscriber() returned')
  }
  const name = options.name ?? subscriber.name
  const print = options.printLogs ?? process.env.MI_TESTKIT_LOG === '1'
  const logs: LogEntry[] = []
  const logger = createLogger(logs, { subscriber: name }, print)
  const counters = new Map<string, number>()
  const gauges = new Map<string, number>()
  const histograms = new Map<string, number[]>()
  const metrics: SubscriberMetrics = {
    counter: (n) => ({ inc: (by = 1) => void counters.set(n, (counters.get(n) ?? 0) + by) }),
    gauge: (n) => ({ set: (v) => void gauges.set(n, v) }),
    histogram: (n) => ({
      record: (v) => {
        const values = histograms.get(n)
        if (values) values.push(v)
        else histograms.set(n, [v])
      },
    }),
  }
  const controller = new AbortController()
  const emits = createEmitBuffer(name)
  const emitted: HarnessEmitted[] = []
  const deliveries: Delivery[] = []
  const errors: unknown[] = []
  const defaults = { stream: 'test', module: 'test-module', core: '', ...options.defaults }
  let config: C | undefined
  let state: 'new' | 'ready' | 'closed' = 'new'
  let nextLsn = 1
  let nextSeq = 1n
  let lastBatch: SubscriberRecord[] | undefined
  let lastAttempt = 0
  const failures: { when: 'before' | 'after'; error: unknown }[] = []

  const ctxFor = (attempt: number): SubscriberContext<C> => ({
    name,
    config: config as C,
    logger,
    metrics,
    signal: controller.signal,
    emit: emits.emit,
    attempt,
  })

  function buildBatch(records: readonly PartialRecord[]): SubscriberRecord[] {
    const nowUs = Date.now() * 1000
    const bodies = records.map((r) => toBody(r.body))
    // One buffer for the whole batch, as the runtime moves it into the worker: a plugin that keeps
    // `body.buffer` instead of copying the bytes it needs will see its neighbours' bytes.
    const shared = new Uint8Array(bodies.reduce((n, b) => n + b.byteLength, 0))
    let offset = 0
    return records.map((r, i) => {
      const b = bodies[i]!
      shared.set(b, offset)
      const body = shared.subarray(offset, offset + b.byteLength)
      offset += b.byteLength
      const lsn = r.lsn ?? nextLsn
      nextLsn = Math.max(nextLsn, lsn + 1)
      const seq = r.seq ?? (defaults.seq !== undefined ? defaults.seq : nextSeq++)
      return {
        lsn,
        stream: r.stream ?? defaults.stream,
        module: r.module ?? defaults.module,
        core: r.core ?? defaults.core,
        seq,
        ts: r.ts ?? defaults.ts ?? nowUs,
        rts: r.rts ?? defaults.rts ?? nowUs,
        body,
      }
    })
  }

  async function attemptOnce(batch: SubscriberRecord[], attempt: number): Promise<HarnessEmitted[]> {
    const lsns = batch.map((r) => r.lsn)
    const ctx = ctxFor(attempt)
    const injected = failures.shift()
    if (injected?.when === 'before') {
      deliveries.push({ attempt, lsns, outcome: 'simulated-failure', error: injected.error })
      throw injected.error
    }
    emits.open()
    try {
      await subscriber.handle(batch, ctx)
    } catch (err) {
      emits.discard()
      deliveries.push({ attempt, lsns, outcome: 'failed', error: err })
      errors.push(err)
      try {
        await subscriber.hooks?.onError?.(err, batch, ctx)
      } catch (hookErr) {
        logger.error({ err: hookErr }, 'onError hook threw')
      }
      throw err
    }
    const out = emits.take()
    if (injected) {
      deliveries.push({ attempt, lsns, outcome: 'simulated-failure', error: injected.error })
      throw injected.error
    }
    deliveries.push({ attempt, lsns, outcome: 'ok' })
    const batchLastLsn = lsns.at(-1) ?? 0
    const committed = out.map((e) => ({ ...e, text: decoder.decode(e.body), batchLastLsn }))
    emitted.push(...committed)
    return committed
  }

  async function run(batch: SubscriberRecord[], firstAttempt: number, opts: DeliverOptions = {}) {
    if (state !== 'ready')
      throw new MI_ERR_PLUGIN_INVALID(`harness for ${name}: call init() before deliver()`)
    const maxAttempts = opts.maxAttempts ?? 1
    lastBatch = batch
    for (let attempt = firstAttempt; ; attempt++) {
      lastAttempt = attempt
      try {
        return await attemptOnce(batch, attempt)
      } catch (err) {
        if (attempt - firstAttempt + 1 >= maxAttempts) throw err
      }
    }
  }

  const harness: TestHarness<C> = {
    async init() {
      if (state !== 'new') throw new MI_ERR_PLUGIN_INVALID(`harness for ${name}: init() called twice`)
      config = await validateSubscriberConfig(subscriber, options.config)
      const ctx = ctxFor(1)
      await subscriber.init?.(ctx)
      await subscriber.hooks?.onReady?.(ctx)
      state = 'ready'
    },
    deliver(records, opts) {
      return run(buildBatch(records), 1, opts)
    },
    redeliver(opts) {
      if (!lastBatch) throw new MI_ERR_PLUGIN_INVALID(`harness for ${name}: nothing delivered yet`)
      return run(lastBatch, lastAttempt + 1, opts)
    },
    failNext(count = 1, opts = {}) {
      for (let i = 0; i < count; i++) {
        failures.push({
          when: opts.when ?? 'after',
          error:
            opts.error ?? new MI_ERR_PLUGIN_SIMULATED_FAILURE(`injected by failNext(), ${i + 1} of ${count}`),
        })
      }
    },
    abort(reason) {
      controller.abort(reason)
    },
    async close() {
      if (state === 'closed') return
      const wasReady = state === 'ready'
      state = 'closed'
      controller.abort(new Error('subscriber closing'))
      if (!wasReady) return
      const ctx = ctxFor(1)
      await subscriber.close?.(ctx)
      await subscriber.hooks?.onClose?.(ctx)
    },
    [Symbol.asyncDispose]() {
      return harness.close()
    },
    emitted,
    logs,
    deliveries,
    errors,
    get metrics() {
      return {
        counters: Object.fromEntries(counters),
        gauges: Object.fromEntries(gauges),
        histograms: Object.fromEntries([...histograms].map(([k, v]) => [k, [...v]])),
      }
    },
    get config() {
      return config as C
    },
  }
  return harness
}
