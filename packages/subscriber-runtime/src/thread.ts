/**
 * startSubscribersThread(): the runtime on a thread of its own (src/thread-worker.ts), niced, so a
 * host whose main thread serves sockets (the server: every ingest connection) keeps that thread.
 *
 * Why: catching up a backlog, the dispatchers' log reads (CRC, decode), batch building,
 * Batch.encode and offset commits cost ~2.7–2.9 ms of main-thread CPU per MB; sliced into turns
 * they still held main-loop p99 at 25–30 ms and ingest's ack p99 at ×2–3.5 of ingest alone
 * (`node benchmarks/src/run.ts s3 --big`). The main thread cannot be niced (it is ingest); a thread
 * of its own can, and on a saturated host the kernel then gives ingest's threads the CPU first.
 *
 *   host (this file)                         runtime thread (thread-worker.ts, nice ≥ the setting's)
 *   ─────────────────                        ───────────────────────────────────────────────────────
 *   emit / emitPacked  ◀── EMIT(_PACKED) ──── dispatchers ── piscina pools (nested workers)
 *   logger             ◀── LOG ─────────────── forwarding logger (bindings kept)
 *   metrics callbacks  ◀── TICK (250 ms) ───── recorded calls + stats snapshot
 *   stats()            reads the last snapshot
 *   pause/resume/finished/close ── comlink ──▶ the runtime's own methods (each returns fresh stats)
 *
 * stats() stays synchronous (Prometheus gauges collect synchronously; the admin socket and the
 * dashboard read it too): it returns the snapshot the thread pushed last, at most kTickMs old, and
 * fresh after every control call (each call's reply carries the stats right after it).
 *
 * If the thread ends on its own (an uncaught error in the runtime, an out-of-memory end), fan-out
 * has stopped: logged (`SubscriberThreadExited`) and reported to `onFatal` with
 * MI_ERR_SUBSCRIBER_THREAD_EXITED (default: thrown, like the engine's dead data-path worker). Not
 * restarted in-process: the thread runs only the runtime's own code (plugins crash in their pools,
 * which the runtime replaces already), so its death is a bug that a restart loop would hide; a
 * supervisor restarting the server resumes every subscriber from its committed offset.
 */
import { MessageChannel, Worker } from 'node:worker_threads'
import { fromWire, toWire } from '@module-ingest/errors'
import type { Logger } from '@module-ingest/subscriber-sdk'
import * as Comlink from 'comlink'
import {
  MI_ERR_SUBSCRIBER_OPT_INVALID,
  MI_ERR_SUBSCRIBER_THREAD_EXITED,
  MI_ERR_SUBSCRIBER_UNKNOWN,
} from './errors.ts'
import type { StartSubscribersOptions, SubscriberRuntime } from './runtime.ts'
import {
  type FromThread,
  kThreadContext,
  type ThreadControl,
  type ThreadSetup,
  type ToThread,
} from './thread-protocol.ts'
import type { SubscriberStats } from './types.ts'

export interface StartSubscribersThreadOptions
  extends Omit<StartSubscribersOptions, 'reader' | 'durableSignal'> {
  /** The writer's `log.durableSignal` (a SharedArrayBuffer: the thread waits on it too). */
  durableSignal?: Int32Array
  /**
   * The thread's nice (0–19; Linux). Its pool threads start from it, so it is lowered to the
   * lowest `nice` an enabled subscriber asks for. Default 10.
   */
  nice?: number
  /** The thread ended on its own (MI_ERR_SUBSCRIBER_THREAD_EXITED). Default: thrown. */
  onFatal?: (err: Error) => void
}

const WORKER_URL = new URL('./thread-worker.ts', import.meta.url)
/** Tests end a runtime's thread as a crash would (terminateThreadForTests). */
const kWorkers = new WeakMap<SubscriberRuntime, Worker>()

/** @internal Tests: end the runtime's thread as a crash would; resolves when it is gone. */
export async function terminateThreadForTests(rt: SubscriberRuntime): Promise<void> {
  await kWorkers.get(rt)?.terminate()
}

/** How long close() waits for the thread to exit once the runtime closed, before terminating it. */
const kExitMs = 2000

/**
 * Start the subscriber runtime on its own thread. Resolves once every subscriber started; rejects
 * with the runtime's own coded error (MI_ERR_PLUGIN_*, MI_ERR_SUBSCRIBER_OPT_INVALID, …) when it
 * cannot, with the thread gone.
 */
export async function startSubscribersThread(
  opts: StartSubscribersThreadOptions,
): Promise<SubscriberRuntime> {
  const nice = opts.nice ?? 10
  if (!Number.isInteger(nice) || nice < 0 || nice > 19)
    throw new MI_ERR_SUBSCRIBER_OPT_INVALID('nice', `must be an integer from 0 to 19, got ${String(nice)}`)
  const { logger, metrics, emit, emitPacked } = opts
  const channel = new MessageChannel()
  const setup: ThreadSetup = {
    dataDir: opts.dataDir,
    subscribers: opts.subscribers,
    baseDir: opts.baseDir ?? process.cwd(),
    plugins: opts.plugins ?? {},
    pluginPaths: opts.pluginPaths ?? [],
    dryRun: opts.dryRun ?? false,
    commitEveryBatches: opts.commitEveryBatches,
    commitIntervalMs: opts.commitIntervalMs,
    closeTimeoutMs: opts.closeTimeoutMs,
    nice,
    packed: emitPacked !== undefined,
    durableSignal: opts.durableSignal,
    control: channel.port2,
  }
  const worker = new Worker(WORKER_URL, {
    name: 'mi-subscribers',
    workerData: setup,
    transferList: [channel.port2],
  })
  const control = Comlink.wrap<ThreadControl>(channel.port1 as unknown as Comlink.Endpoint)
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve))
  let lastError: Error | undefined
  worker.on('error', (err) => {
    lastError = err
  })

  let snapshot: SubscriberStats[] = []
  const loggers = new Map<string, Logger>()
  const childOf = (bindings: Record<string, unknown>): Logger => {
    const key = JSON.stringify(bindings)
    let l = loggers.get(key)
    if (l === undefined) {
      l = Object.keys(bindings).length === 0 ? logger : logger.child(bindings)
      loggers.set(key, l)
    }
    return l
  }
  const reply = (m: ToThread, transfer: ArrayBuffer[] = []) => worker.postMessage(m, transfer)
  const ready = Promise.withResolvers<{ nice: number | null; loweredFor: string | null }>()
  worker.on('message', (m: FromThread) => {
    if (m?.context !== kThreadContext) throw new Error(`this should not happen: ${JSON.stringify(m)}`)
    switch (m.code) {
      case 'LOG':
        childOf(m.bindings)[m.level](m.obj ?? {}, m.msg)
        return
      case 'TICK':
        snapshot = m.stats
        // Each call as the runtime made it, in order: counters and histograms add up the same.
        for (const [name, ...args] of m.metrics)
          (metrics?.[name] as ((...a: unknown[]) => void) | undefined)?.(...args)
        return
      case 'EMIT':
        emit(m.records).then(
          () => reply({ code: 'EMITTED', context: kThreadContext, id: m.id }),
          (err) => reply({ code: 'EMITTED', context: kThreadContext, id: m.id, error: toWire(err) }),
        )
        return
      case 'EMIT_PACKED': {
        const append = emitPacked!
        append(m.packed).then(
          () => reply({ code: 'EMITTED', context: kThreadContext, id: m.id }),
          // The buffer goes back for the runtime's retry (the host's append did not keep it).
          (err) =>
            reply(
              {
                code: 'EMITTED',
                context: kThreadContext,
                id: m.id,
                error: toWire(err),
                records: m.packed.records,
              },
              [m.packed.records.buffer as ArrayBuffer],
            ),
        )
        return
      }
      case 'READY':
        snapshot = m.stats
        ready.resolve({ nice: m.nice, loweredFor: m.loweredFor })
        return
      case 'FAILED':
        ready.reject(rebuild(m.error))
        return
    }
  })

  const started = await Promise.race([
    ready.promise,
    exited.then((code) => {
      throw lastError ?? new MI_ERR_SUBSCRIBER_THREAD_EXITED(code, 'before it started')
    }),
  ]).catch(async (err) => {
    channel.port1.close()
    await exited
    throw err
  })
  // The nice actually set: lower than asked when a subscriber asks for less (see thread-worker.ts).
  logger.info(
    { event: 'SubscriberThreadStarted', nice: started.nice, asked: nice, loweredFor: started.loweredFor },
    started.loweredFor
      ? `subscriber runtime on its own thread at nice ${started.nice} (subscriber ${started.loweredFor} asks for it)`
      : `subscriber runtime on its own thread at nice ${started.nice}`,
  )

  let closing: Promise<void> | undefined
  // Comlink calls to a dead thread never settle: every call races the thread's end.
  const down = exited.then((code) => {
    if (closing) return
    const err = new MI_ERR_SUBSCRIBER_THREAD_EXITED(code, lastError?.message ?? 'no error reported', {
      cause: lastError,
    })
    logger.fatal(
      { event: 'SubscriberThreadExited', exitCode: code, err },
      'the subscriber runtime thread died',
    )
    if (opts.onFatal) opts.onFatal(err)
    else
      queueMicrotask(() => {
        throw err
      })
    throw err
  })
  down.catch(() => {})
  const call = async (fn: () => Promise<SubscriberStats[]>): Promise<void> => {
    snapshot = await Promise.race([fn(), down.then(() => snapshot)])
  }
  const check = (name: string) => {
    if (!snapshot.some((s) => s.name === name)) throw new MI_ERR_SUBSCRIBER_UNKNOWN(name)
  }

  const runtime: SubscriberRuntime = {
    stats: () => snapshot,
    pause(name) {
      check(name)
      return call(() => control.pause(name))
    },
    resume(name) {
      check(name)
      return call(() => control.resume(name))
    },
    finished(name) {
      if (name !== undefined) check(name)
      return call(() => control.finished(name))
    },
    close() {
      closing ??= (async () => {
        // The graceful part runs in the thread (closeTimeoutMs); then it exits on its own.
        let failed: unknown
        const closed = control.close().then(
          (s) => {
            snapshot = s
          },
          (err) => {
            failed = err
          },
        )
        await Promise.race([closed, exited])
        const timer = setTimeout(() => void worker.terminate(), kExitMs)
        await exited
        clearTimeout(timer)
        channel.port1.close()
        if (failed !== undefined) throw failed
      })()
      return closing
    },
  }
  kWorkers.set(runtime, worker)
  return runtime
}

/** A start error from the thread, with its code (and `instanceof` its class: the brand is global). */
function rebuild(wire: Parameters<typeof fromWire>[0]): Error {
  const err = fromWire(wire)
  // createError brands with Symbol.for('module-ingest.error <code>') (packages/errors).
  ;(err as unknown as Record<symbol, boolean>)[Symbol.for(`module-ingest.error ${wire.code}`)] = true
  return err
}
