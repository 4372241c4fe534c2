// Following the log: how a reader learns that the durable watermark moved (index.ts, "Durable
// watermark"), and a cursor's wait for data past it. One watch per reader, shared by its cursors,
// running only while someone waits.
import fs from 'node:fs'
import { watchDurable } from './durable-signal.ts'

export interface WaitOptions {
  signal?: AbortSignal
  timeoutMs?: number
}

export class DurableWatch {
  readonly #file: string
  readonly #durableSignal: Int32Array | undefined
  readonly #pollIntervalMs: number | undefined
  #waiters = new Set<() => void>()
  #watcher: fs.FSWatcher | undefined
  #pollTimer: NodeJS.Timeout | undefined
  #unwatch: (() => void) | undefined

  /** `file`: the watermark file; `durableSignal`, `pollIntervalMs`: ReaderOptions'. */
  constructor(file: string, opts: { durableSignal?: Int32Array; pollIntervalMs?: number }) {
    this.#file = file
    this.#durableSignal = opts.durableSignal
    this.#pollIntervalMs = opts.pollIntervalMs
  }

  /** Calls `cb` on every watermark change event (or poll tick) until the returned function is called. */
  onChange(cb: () => void): () => void {
    this.#waiters.add(cb)
    this.#start()
    return () => {
      this.#waiters.delete(cb)
      if (this.#waiters.size === 0) this.stop()
    }
  }

  /** Calls every waiter once (they re-check their condition). */
  notify = (): void => {
    for (const cb of [...this.#waiters]) cb()
  }

  #start(): void {
    if (this.#pollTimer) return
    // In the writer's process, its durable signal (durable-signal.ts); elsewhere inotify on the
    // watermark file. A poll is the floor for missed events (a writer of another process).
    const sig = this.#durableSignal
    if (sig) this.#unwatch = watchDurable(sig, this.notify)
    else {
      try {
        this.#watcher = fs.watch(this.#file, { persistent: false }, this.notify)
        this.#watcher.on('error', () => {})
      } catch {
        this.#watcher = undefined
      }
    }
    this.#pollTimer = setInterval(this.notify, this.#pollIntervalMs ?? (sig ? 1000 : 50))
  }

  stop(): void {
    this.#unwatch?.()
    this.#unwatch = undefined
    this.#watcher?.close()
    this.#watcher = undefined
    clearInterval(this.#pollTimer)
    this.#pollTimer = undefined
  }
}

/**
 * Resolves true once `has()`, re-checked on each change event of `onChange`; false on timeout or
 * once `closed()`; rejects on abort.
 */
export async function waitUntil(
  has: () => boolean,
  closed: () => boolean,
  onChange: (cb: () => void) => () => void,
  options: WaitOptions,
): Promise<boolean> {
  if (has()) return true
  const { signal, timeoutMs } = options
  signal?.throwIfAborted()
  return new Promise<boolean>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined
    let settled = false
    let off: (() => void) | undefined
    const done = (v: boolean | Error): void => {
      if (settled) return
      settled = true
      off?.()
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      if (v instanceof Error) reject(v)
      else resolve(v)
    }
    const onAbort = (): void => done(signal!.reason instanceof Error ? signal!.reason : new Error('aborted'))
    off = onChange(() => {
      if (closed()) done(false)
      else if (has()) done(true)
    })
    if (settled) return off()
    if (timeoutMs !== undefined) timer = setTimeout(() => done(false), timeoutMs)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
