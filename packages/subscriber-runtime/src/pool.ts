import { randomUUID } from 'node:crypto'
import { BroadcastChannel } from 'node:worker_threads'
import { type CodedError, fromWire } from '@module-ingest/errors'
import { kNoRecords, type PackedRecords } from '@module-ingest/log/packed'
import { Piscina } from 'piscina'
import type { ResolvedSubscriberConfig } from './config.ts'
import {
  MI_ERR_SUBSCRIBER_HANDLE_FAILED,
  MI_ERR_SUBSCRIBER_INIT_FAILED,
  MI_ERR_SUBSCRIBER_TIMEOUT,
  MI_ERR_SUBSCRIBER_WORKER_EXITED,
  MI_ERR_SUBSCRIBER_WORKER_OOM,
} from './errors.ts'
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
import { HOST_VERSION } from './plugin.ts'

/**
 * What one delivery attempt came to.
 * - `ok`: handle resolved; `emits` are the derived records to append before the offset moves.
 * - `failed`: counts as an attempt (throw, timeout, exit, OOM); `restarted` when the worker died.
 * - `unavailable`: the plugin could not load or init, or handle threw a `*_UNAVAILABLE` code: not
 *   the batch's fault, retried without spending attempts (an offline broker must not dead-letter
 *   good data).
 * - `fatal`: load, init or handle threw a `*_FATAL` code: retrying cannot help until someone
 *   changes something (credentials, a bucket). The subscriber goes `failed`; no attempt is spent.
 * - `abandoned`: the runtime is shutting down; the batch stays uncommitted.
 */
/** What run() moves into a worker: batch.ts's Batch, or records through codec.ts's encodeBatch. */
export interface EncodableBatch {
  /** Batch.encode works in slices over several event-loop turns (slices.ts). */
  encode(): ArrayBuffer | Promise<ArrayBuffer>
}

export type Outcome =
  | { kind: 'ok'; emits: PackedRecords }
  | { kind: 'failed'; error: CodedError; restarted: boolean }
  | { kind: 'unavailable'; error: CodedError }
  | { kind: 'fatal'; error: CodedError }
  | { kind: 'abandoned' }

export interface PoolHooks {
  onPluginLog(event: WorkerLogEvent): void
  onPluginMetrics(deltas: MetricDelta[]): void
  /** A worker died outside any task (piscina's 'error' event). */
  onPoolError(err: Error): void
}

const kWorkerUrl = new URL('./worker.ts', import.meta.url).href

/**
 * One piscina pool per subscriber. Why not one shared pool: a pool's workers load one plugin
 * (init once per thread, no cross-plugin state), `resourceLimits` are per pool, and a plugin that
 * hangs or crashes only ever occupies its own threads, so other subscribers keep their capacity.
 * The cost is `concurrency` threads per subscriber (~10 MB each when idle).
 */
export class SubscriberPool {
  readonly #cfg: ResolvedSubscriberConfig
  readonly #pool: Piscina
  readonly #channel: string
  readonly #graceMs: number
  readonly #startupTimeoutMs: number

  constructor(cfg: ResolvedSubscriberConfig, specifier: string, hooks: PoolHooks, startupTimeoutMs = 60_000) {
    this.#cfg = cfg
    this.#startupTimeoutMs = startupTimeoutMs
    this.#channel = `mi.subscriber.${cfg.name}.${randomUUID()}`
    // The plugin sees ctx.signal abort at timeoutMs; the thread is destroyed after this grace.
    // The floor is for loaded hosts: a plugin that did honour the abort still needs its reply to
    // cross threads before the thread is destroyed (50 ms was too little at load average 30).
    this.#graceMs = Math.min(1000, Math.max(250, Math.floor(cfg.timeoutMs / 10)))
    const setup: WorkerSetup = {
      name: cfg.name,
      specifier,
      options: cfg.options,
      timeoutMs: cfg.timeoutMs,
      nice: cfg.nice,
      hostVersion: HOST_VERSION,
      channel: this.#channel,
    }
    this.#pool = new Piscina({
      filename: kWorkerUrl,
      name: 'default',
      minThreads: cfg.concurrency,
      maxThreads: cfg.concurrency,
      // The dispatcher never queues more than `concurrency` tasks here; fastq holds the rest.
      maxQueue: cfg.concurrency,
      // Plugins keep sockets and timers alive between batches (NATS heartbeats, flush timers):
      // piscina's default Atomics.wait() loop would freeze their event loop while idle.
      atomics: 'disabled',
      // Nothing reads piscina's run/wait-time histograms; recording them costs every task.
      recordTiming: false,
      workerData: setup,
      ...(cfg.resourceLimits ? { resourceLimits: cfg.resourceLimits } : {}),
    })
    this.#pool.on('message', (msg: WorkerLogEvent | WorkerHandlingEvent) => {
      if (msg?.context !== kContext) return
      if (msg.code === 'LOG') hooks.onPluginLog(msg)
      else if (msg.code === 'HANDLING') this.#started.get(msg.id)?.()
    })
    // Without a listener an 'error' event would throw and take the host down.
    this.#pool.on('error', (err: Error) => hooks.onPoolError(err))
    this.#hooks = hooks
  }

  readonly #hooks: PoolHooks
  readonly #started = new Map<number, () => void>()
  #nextId = 1

  get threads(): number {
    return this.#pool.threads.length
  }

  /** One attempt: move the encoded batch in, wait for the worker, classify the outcome. */
  async run(batch: EncodableBatch, attempt: number, stop: AbortSignal): Promise<Outcome> {
    if (stop.aborted) return { kind: 'abandoned' }
    // Encoded per attempt: the buffer is moved into the worker. Before the clocks start: a large
    // batch's encode spans event-loop turns (it yields to the host's sockets) and is not the plugin's time.
    const encoded = await batch.encode()
    if (stop.aborted) return { kind: 'abandoned' }
    // Two clocks: a replacement thread first boots and runs load + init (bounded by
    // startupTimeoutMs), then handle() gets timeoutMs (+ grace) from its HANDLING message.
    // Starting the batch clock at pool.run() would charge a slow cold start to the batch.
    // One controller per task, fed by the runtime's stop signal and the two timers (no
    // AbortSignal.any per batch: composite signals off a long-lived source are costly).
    const abort = new AbortController()
    let timedOut = false
    const expire = () => {
      timedOut = true
      abort.abort(new Error('timeout'))
    }
    const onStop = () => abort.abort(stop.reason)
    stop.addEventListener('abort', onStop, { once: true })
    let timer = setTimeout(expire, this.#startupTimeoutMs + this.#cfg.timeoutMs)
    const id = this.#nextId++
    this.#started.set(id, () => {
      clearTimeout(timer)
      timer = setTimeout(expire, this.#cfg.timeoutMs + this.#graceMs)
    })
    const task: BatchTask = { id, batch: encoded, attempt }
    let result: BatchResult
    try {
      result = (await this.#pool.run(task, { transferList: [encoded], signal: abort.signal })) as BatchResult
    } catch (err) {
      return this.#classify(err as Error & { code?: string }, stop, timedOut)
    } finally {
      clearTimeout(timer)
      stop.removeEventListener('abort', onStop)
      this.#started.delete(id)
    }
    if (result.metrics.length > 0) this.#hooks.onPluginMetrics(result.metrics)
    if (result.code === 'DONE') return { kind: 'ok', emits: result.emits ?? kNoRecords }
    const cause = fromWire(result.error)
    if (/_FATAL$/.test(cause.code)) return { kind: 'fatal', error: cause }
    // A plugin whose init says "my downstream is unreachable" (code *_UNAVAILABLE) keeps its code.
    if (result.phase === 'init' && /_UNAVAILABLE$/.test(cause.code))
      return { kind: 'unavailable', error: cause }
    if (result.phase !== 'handle') {
      return {
        kind: 'unavailable',
        error: new MI_ERR_SUBSCRIBER_INIT_FAILED(this.#cfg.name, cause.message, { cause }),
      }
    }
    // A plugin says "my downstream is unreachable" with a code ending in _UNAVAILABLE (e.g.
    // MI_ERR_NATS_UNAVAILABLE): like a failed init, not the batch's fault, so no attempt is spent
    // and an outage longer than maxAttempts backoffs never dead-letters good data.
    if (/_UNAVAILABLE$/.test(cause.code)) return { kind: 'unavailable', error: cause }
    // Keep the plugin's own code when it has one: it is what operators search for.
    const error =
      cause.code !== 'MI_ERR_INTERNAL'
        ? cause
        : new MI_ERR_SUBSCRIBER_HANDLE_FAILED(this.#cfg.name, cause.message, { cause })
    return { kind: 'failed', error, restarted: false }
  }

  #classify(err: Error & { code?: string }, stop: AbortSignal, timedOut: boolean): Outcome {
    const name = this.#cfg.name
    // Verified on piscina 5.3 / Node 24: an aborted running task rejects with AbortError and its
    // thread is terminated; process.exit() in a task rejects with "worker exited with code: N";
    // resourceLimits overflow rejects with code ERR_WORKER_OUT_OF_MEMORY. In each case piscina
    // replaces the thread (minThreads).
    if (err?.name === 'AbortError') {
      if (stop.aborted && !timedOut) return { kind: 'abandoned' }
      return {
        kind: 'failed',
        error: new MI_ERR_SUBSCRIBER_TIMEOUT(name, this.#cfg.timeoutMs),
        restarted: true,
      }
    }
    if (err?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return {
        kind: 'failed',
        error: new MI_ERR_SUBSCRIBER_WORKER_OOM(name, err.message, { cause: err }),
        restarted: true,
      }
    }
    if (stop.aborted) return { kind: 'abandoned' }
    // Exit codes, uncaught exceptions from the plugin's background work: the thread is gone.
    return {
      kind: 'failed',
      error: new MI_ERR_SUBSCRIBER_WORKER_EXITED(name, err?.message ?? String(err), { cause: err }),
      restarted: true,
    }
  }

  /** Ask every live worker to run the plugin's close(), then destroy the threads. */
  async close(timeoutMs: number): Promise<void> {
    const expected = this.#pool.threads.length
    // Workers load the plugin on their first task. With no task ever run there is nothing to close,
    // and a thread still booting would miss the broadcast: waiting for its CLOSED cost the whole
    // timeout (a queue-worker run with nothing to do idled 10 s).
    if (expected > 0 && this.#nextId > 1) {
      const ch = new BroadcastChannel(this.#channel)
      let acks = 0
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs)
        ch.onmessage = (ev: unknown) => {
          const msg = (ev as { data: ChannelMessage }).data
          if (msg?.code === 'CLOSED' && ++acks >= expected) {
            clearTimeout(timer)
            resolve()
          }
        }
        ch.postMessage({ code: 'CLOSE', timeoutMs } satisfies ChannelMessage)
      })
      ch.close()
    }
    await this.#pool.destroy()
  }
}
