/**
 * The runtime's own thread (started by src/thread.ts): today's startSubscribers(), unchanged, on a
 * thread whose nice is above the host's, so the host's main thread is left to its sockets.
 *
 * Everything the runtime would call on the host is a message instead (thread-protocol.ts): emits
 * (packed buffers moved, and moved back when the append failed, for the retry), log lines, metric
 * calls (batched into the 250 ms TICK with a stats snapshot). The log reader is this thread's own,
 * opened by startSubscribers on dataDir with the writer's durable signal (a SharedArrayBuffer: the
 * writer's Atomics.notify wakes this thread's waitAsync as it woke the main thread's).
 */
import { parentPort, workerData } from 'node:worker_threads'
import { fromWire, toWire } from '@module-ingest/errors'
import type { PackedRecords } from '@module-ingest/log/packed'
import { probeLoopDelay } from '@module-ingest/telemetry/loop-delay'
import * as Comlink from 'comlink'
import { resolveSubscriberConfigs } from './config.ts'
import { forwardingLogger } from './forward-logger.ts'
import { setThreadNice } from './nice.ts'
import { checkPlugin } from './plugin.ts'
import { type SubscriberRuntime, startSubscribers } from './runtime.ts'
import {
  type EmitRecord,
  type FromThread,
  kThreadContext,
  type MetricCall,
  type ThreadControl,
  type ThreadSetup,
  type ToThread,
} from './thread-protocol.ts'
import type { RuntimeMetrics } from './types.ts'

const setup = workerData as ThreadSetup
const port = parentPort!
const kTickMs = 250

function post(msg: FromThread, transfer: ArrayBuffer[] = []) {
  port.postMessage(msg, transfer)
}

// --- logger: each line posted to the host's logger, bindings kept for its child() -------------------

const logger = forwardingLogger((line) => post({ code: 'LOG', context: kThreadContext, ...line }))

// --- metrics: calls recorded, replayed on the host with the next TICK --------------------------------

let metricCalls: MetricCall[] = []
const record =
  <K extends keyof RuntimeMetrics>(name: K) =>
  (...args: Parameters<NonNullable<RuntimeMetrics[K]>>) => {
    metricCalls.push([name, ...args] as unknown as MetricCall)
  }
const metrics: Required<RuntimeMetrics> = {
  batchDelivered: record('batchDelivered'),
  batchRetried: record('batchRetried'),
  batchDeadLettered: record('batchDeadLettered'),
  workerRestarted: record('workerRestarted'),
  subscriberFailed: record('subscriberFailed'),
  offsetCommitted: record('offsetCommitted'),
  pluginMetric: record('pluginMetric'),
  loopDelay: record('loopDelay'),
}

// --- emits: posted, settled by the host's EMITTED ----------------------------------------------------

let nextEmitId = 1
const emits = new Map<number, { settle: (reply: ToThread) => void }>()
port.on('message', (m: ToThread) => {
  if (m?.context !== kThreadContext || m.code !== 'EMITTED')
    throw new Error(`this should not happen: ${m?.code}`)
  emits.get(m.id)?.settle(m)
  emits.delete(m.id)
})

function awaitEmit(id: number, onError?: (reply: ToThread) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    emits.set(id, {
      settle(reply) {
        if (reply.error === undefined) return resolve()
        onError?.(reply)
        reject(fromWire(reply.error))
      },
    })
  })
}

/** Dead letters: rare, small, their bodies may be views into a batch still in use: cloned. */
function emit(records: EmitRecord[]): Promise<void> {
  const id = nextEmitId++
  const done = awaitEmit(id)
  post({ code: 'EMIT', context: kThreadContext, id, records })
  return done
}

/** A batch's derived records: the one buffer moved to the host (copied first if it is a view). */
function emitPacked(packed: PackedRecords): Promise<void> {
  const id = nextEmitId++
  let bytes = packed.records
  if (bytes.byteOffset !== 0 || bytes.byteLength !== bytes.buffer.byteLength) bytes = bytes.slice()
  // The runtime retries a failed emit with this same object: the host moves the buffer back.
  const done = awaitEmit(id, (reply) => {
    if (reply.records) packed.records = reply.records
  })
  post({ code: 'EMIT_PACKED', context: kThreadContext, id, packed: { ...packed, records: bytes } }, [
    bytes.buffer as ArrayBuffer,
  ])
  return done
}

// --- start -------------------------------------------------------------------------------------------

/**
 * This thread's nice: the setting, but never above the lowest nice a subscriber asks for. The pool
 * threads start on this thread and inherit its priority, and taking a priority back needs
 * CAP_SYS_NICE: a subscriber that must keep up (index: 0) keeps the priority it asked for.
 */
async function niceFor(): Promise<{ nice: number; loweredFor: string | null }> {
  let nice = setup.nice
  let loweredFor: string | null = null
  for (const cfg of resolveSubscriberConfigs(setup.subscribers)) {
    const checked = await checkPlugin(cfg.use, cfg.options, setup.baseDir, setup.plugins, setup.pluginPaths)
    const wants = cfg.nice ?? checked.subscriber.nice ?? 0
    if (wants < nice) {
      nice = wants
      loweredFor = cfg.name
    }
  }
  return { nice, loweredFor }
}

let rt: SubscriberRuntime
try {
  const { nice: wanted, loweredFor } = await niceFor()
  let nice: number | null = null
  try {
    nice = setThreadNice(wanted, { onlyLower: true })
  } catch (err) {
    logger.warn({ event: 'SubscriberThreadNiceNotSet', nice: wanted, err }, 'thread priority not changed')
  }
  rt = await startSubscribers({
    dataDir: setup.dataDir,
    subscribers: setup.subscribers,
    logger,
    metrics,
    emit,
    ...(setup.packed ? { emitPacked } : {}),
    ...(setup.durableSignal ? { durableSignal: setup.durableSignal } : {}),
    baseDir: setup.baseDir,
    plugins: setup.plugins,
    pluginPaths: setup.pluginPaths,
    dryRun: setup.dryRun,
    ...(setup.commitEveryBatches !== undefined ? { commitEveryBatches: setup.commitEveryBatches } : {}),
    ...(setup.commitIntervalMs !== undefined ? { commitIntervalMs: setup.commitIntervalMs } : {}),
    ...(setup.closeTimeoutMs !== undefined ? { closeTimeoutMs: setup.closeTimeoutMs } : {}),
  })
  post({ code: 'READY', context: kThreadContext, stats: rt.stats(), nice, loweredFor })
} catch (err) {
  // The host rethrows it with its code (MI_ERR_PLUGIN_*, MI_ERR_SUBSCRIBER_OPT_INVALID) and the
  // thread ends with nothing started (startSubscribers starts nothing when a check fails).
  post({ code: 'FAILED', context: kThreadContext, error: toWire(err) })
  port.close()
  process.exit(0)
}

function tick() {
  const calls = metricCalls
  metricCalls = []
  post({ code: 'TICK', context: kThreadContext, stats: rt.stats(), metrics: calls })
}
const ticker = setInterval(tick, kTickMs)
// This thread's event-loop delay, beside main's and reads': what a batch or a read here waits.
const stopProbe = probeLoopDelay(metrics.loopDelay)

const control: ThreadControl = {
  pause(name) {
    rt.pause(name)
    return rt.stats()
  },
  resume(name) {
    rt.resume(name)
    return rt.stats()
  },
  async finished(name) {
    await rt.finished(name)
    return rt.stats()
  },
  async close() {
    try {
      await rt.close()
      return rt.stats()
    } finally {
      clearInterval(ticker)
      stopProbe()
      tick()
      // After comlink's reply is posted (a few microtasks from now), failed close or not: nothing is
      // left to run. Node drains parentPort (the last TICK, log lines) before the host sees 'exit'.
      setTimeout(() => process.exit(0), 0)
    }
  },
}
Comlink.expose(control, setup.control as unknown as Comlink.Endpoint)
