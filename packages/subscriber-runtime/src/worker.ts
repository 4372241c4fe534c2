/**
 * Piscina worker entry: one plugin per pool (workerData names it), loaded once per thread.
 *
 * Per thread: import the plugin → check it is a subscriber and the host version → validate its
 * options → init(ctx) → onReady. Per task: decode the moved batch → handle(batch, ctx) → return
 * the emitted records, moved. Failures come back in-band as a `FAILED` result with a wire error,
 * because piscina posts thrown errors raw and structured clone drops their `code`.
 *
 * A plugin that hangs, exits or runs out of heap is not handled here: the main thread aborts the
 * task (piscina then terminates this thread) or sees the thread die, and piscina starts another.
 */

import { BroadcastChannel, parentPort, threadId, workerData } from 'node:worker_threads'
import { toWire } from '@module-ingest/errors'
import { RecordPacker } from '@module-ingest/log/packed'
import {
  assertHostCompatible,
  createEmitBuffer,
  type Subscriber,
  type SubscriberContext,
  type SubscriberMetrics,
  type SubscriberRecord,
  subscriberFromModule,
  validateSubscriberConfig,
} from '@module-ingest/subscriber-sdk'
import { Piscina } from 'piscina'
import { decodeBatch } from './codec.ts'
import { forwardingLogger } from './forward-logger.ts'
import {
  type BatchResult,
  type BatchTask,
  type ChannelMessage,
  kContext,
  type MetricDelta,
  type WorkerHandlingEvent,
  type WorkerLogEvent,
  type WorkerSetup,
} from './messages.ts'
import { setThreadNice } from './nice.ts'

const setup = workerData as WorkerSetup
const lifetime = new AbortController()

// --- logger and metrics: forwarded to the main thread ------------------------------------------

const pendingMetrics = new Map<string, MetricDelta>()
function metric(kind: MetricDelta['kind'], name: string) {
  const key = `${kind}:${name}`
  let d = pendingMetrics.get(key)
  if (d === undefined) {
    d = { kind, name, values: [] }
    pendingMetrics.set(key, d)
  }
  return d
}
const metrics: SubscriberMetrics = {
  counter: (name) => ({
    inc(n = 1) {
      const d = metric('counter', name)
      d.values[0] = (d.values[0] ?? 0) + n
    },
  }),
  histogram: (name) => ({
    record(v) {
      const d = metric('histogram', name)
      // Bounded between two batches: a plugin recording in a tight loop must not grow this forever.
      if (d.values.length < 10_000) d.values.push(v)
    },
  }),
  gauge: (name) => ({
    set(v) {
      metric('gauge', name).values[0] = v
    },
  }),
}
function takeMetrics(): MetricDelta[] {
  const out = [...pendingMetrics.values()]
  pendingMetrics.clear()
  return out
}

// --- plugin lifecycle ------------------------------------------------------------------------

// Plugin lines carry their child() bindings as fields (the runtime logs them under its subscriber).
const logger = forwardingLogger(({ level, bindings, obj, msg }) => {
  const fields = Object.keys(bindings).length > 0 ? { ...bindings, ...obj } : obj
  const event: WorkerLogEvent = { code: 'LOG', context: kContext, name: setup.name, level, obj: fields, msg }
  parentPort?.postMessage(event)
})
// ctx.emit checks each record and packs it at once in the log's record format (emit.ts): no
// object per record, and the packed buffer is what the host appends.
const packer = new RecordPacker()
const emitBuffer = createEmitBuffer(setup.name, packer)

interface Loaded {
  sub: Subscriber<unknown>
  config: unknown
}

function contextFor(config: unknown, signal: AbortSignal, attempt: number): SubscriberContext<unknown> {
  return { name: setup.name, config, logger, metrics, signal, emit: emitBuffer.emit, attempt }
}

class PhaseError extends Error {
  phase: 'load' | 'init'
  constructor(phase: 'load' | 'init', cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause })
    this.phase = phase
  }
}

async function load(): Promise<Loaded> {
  let sub: Subscriber<unknown>
  let config: unknown
  try {
    sub = subscriberFromModule(await import(setup.specifier), setup.specifier)
    assertHostCompatible(sub, setup.hostVersion)
    applyNice(setup.nice ?? sub.nice ?? 0)
    config = await validateSubscriberConfig(sub, setup.options)
  } catch (err) {
    throw new PhaseError('load', err)
  }
  try {
    const ctx = contextFor(config, lifetime.signal, 0)
    await sub.init?.(ctx)
    await sub.hooks?.onReady?.(ctx)
  } catch (err) {
    throw new PhaseError('init', err)
  }
  return { sub, config }
}

/**
 * This thread's priority, before the plugin's init: the entry's `nice`, else the plugin's. Only
 * ever lowered (a server started under `nice` keeps its value), so it needs no privilege.
 */
function applyNice(nice: number) {
  try {
    const now = setThreadNice(nice, { onlyLower: true })
    if (now !== null && nice !== 0)
      logger.debug({ event: 'SubscriberNice', nice: now }, 'worker thread reniced')
  } catch (err) {
    logger.warn({ event: 'SubscriberNiceNotSet', nice, err }, 'worker thread priority not changed')
  }
}

let loaded: Promise<Loaded> | undefined
function ensureLoaded(): Promise<Loaded> {
  if (loaded === undefined) {
    loaded = load()
    // A failed init is retried by the next task (e.g. a broker that was down comes back).
    loaded.catch(() => {
      loaded = undefined
    })
  }
  return loaded
}

// --- shutdown: the main thread broadcasts CLOSE once in-flight batches are done -------------

const channel = new BroadcastChannel(setup.channel)
// Unref'd: piscina decides this thread's lifetime, an idle channel must not keep it alive.
channel.unref()
channel.onmessage = async (ev: unknown) => {
  const msg = (ev as { data: ChannelMessage }).data
  if (msg?.code !== 'CLOSE') return
  lifetime.abort(new Error('subscriber closing'))
  const current = loaded
  if (current !== undefined) {
    try {
      const { sub, config } = await current
      const ctx = contextFor(config, lifetime.signal, 0)
      await sub.close?.(ctx)
      await sub.hooks?.onClose?.(ctx)
    } catch (err) {
      logger.error({ err }, 'SubscriberCloseError')
    }
  }
  channel.postMessage({ code: 'CLOSED', threadId } satisfies ChannelMessage)
}

// --- one task = one delivery attempt of one batch ---------------------------------------------

export default async function handleBatch(task: BatchTask): Promise<BatchResult | unknown> {
  let state: Loaded
  try {
    state = await ensureLoaded()
  } catch (err) {
    const phase = err instanceof PhaseError ? err.phase : 'load'
    const cause = err instanceof PhaseError ? err.cause : err
    return { code: 'FAILED', context: kContext, phase, error: toWire(cause), metrics: takeMetrics() }
  }
  const records = decodeBatch(task.batch) as SubscriberRecord[]
  // The plugin sees the abort at timeoutMs; the main thread destroys this thread a little later
  // if the plugin ignores it. One controller per batch rather than AbortSignal.any (see pool.ts).
  const abort = new AbortController()
  const expire = () =>
    abort.abort(new DOMException(`handle() timed out after ${setup.timeoutMs} ms`, 'TimeoutError'))
  const timer = setTimeout(expire, setup.timeoutMs)
  const onClose = () => abort.abort(lifetime.signal.reason)
  if (lifetime.signal.aborted) onClose()
  else lifetime.signal.addEventListener('abort', onClose, { once: true })
  try {
    return await handleWith(state, records, abort.signal, task)
  } finally {
    clearTimeout(timer)
    lifetime.signal.removeEventListener('abort', onClose)
  }
}

async function handleWith(
  state: Loaded,
  records: SubscriberRecord[],
  signal: AbortSignal,
  task: BatchTask,
): Promise<BatchResult | unknown> {
  const ctx = contextFor(state.config, signal, task.attempt)
  emitBuffer.open()
  packer.reset()
  parentPort?.postMessage({ code: 'HANDLING', context: kContext, id: task.id } satisfies WorkerHandlingEvent)
  try {
    await state.sub.handle(records, ctx)
  } catch (err) {
    emitBuffer.discard()
    packer.reset()
    try {
      await state.sub.hooks?.onError?.(err, records, ctx)
    } catch (hookErr) {
      logger.error({ err: hookErr }, 'SubscriberOnErrorHookError')
    }
    return { code: 'FAILED', context: kContext, phase: 'handle', error: toWire(err), metrics: takeMetrics() }
  }
  emitBuffer.discard() // closes the batch: emit() after handle resolved throws
  const emits = packer.length > 0 ? packer.take() : null
  const result: BatchResult = { code: 'DONE', context: kContext, emits, metrics: takeMetrics() }
  if (emits === null) return result
  // A piscina Transferable: the result object travels by clone, the records' buffer by transfer.
  return Piscina.move({
    [Piscina.transferableSymbol]: [emits.records.buffer],
    [Piscina.valueSymbol]: result,
  } as never)
}
