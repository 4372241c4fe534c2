/**
 * Wait helpers: bounded sleeps on one Int32 word, sync (worker threads) and async (any thread).
 *
 * Every sleep is cut into slices of at most WAIT_SLICE_MS and the caller re-checks its condition
 * after each slice. The ring's own protocol cannot miss a wake-up (waiter flag + value-checked
 * Atomics.wait, see producer.ts / consumer.ts), but the slice turns the cases outside it into a
 * little latency instead of a hang: a producer worker terminated between its Atomics.store and its
 * Atomics.notify, a doorbell bumped by code that forgot to notify, a future bug. thread-stream's
 * lib/wait.js caps its waitAsync polls for the same reason.
 *
 * Doorbell pattern (one consumer, several rings or event sources sharing one word):
 *
 * ```ts
 * for (;;) {
 *   const snapshot = Atomics.load(doorbell, 0)   // 1. snapshot BEFORE looking at the rings
 *   let idle = true
 *   for (const c of consumers) if (c.read(visit) > 0) { idle = false; c.release() }
 *   if (idle) waitDoorbell(doorbell, snapshot, 1000)   // 3. sleeps only if nothing rang since 1.
 * }
 * ```
 *
 * A producer bumps the word (Atomics.add) after publishing and then notifies. If it publishes
 * after step 1 the word no longer equals `snapshot`, so Atomics.wait returns 'not-equal' at once;
 * if it published before step 1 the rings already show the data at step 2. Snapshotting after the
 * check instead would lose exactly that wake-up.
 */

export type WaitResult = 'ok' | 'timed-out' | 'closed'

/** Longest single Atomics.wait / waitAsync; callers loop until their own deadline. */
export const WAIT_SLICE_MS = 250

const noop = () => {}

/** performance.now()-based deadline; Infinity stays Infinity. */
export function deadlineFor(timeoutMs: number): number {
  return timeoutMs === Number.POSITIVE_INFINITY ? timeoutMs : performance.now() + Math.max(0, timeoutMs)
}

export function remainingMs(deadline: number): number {
  return deadline === Number.POSITIVE_INFINITY ? deadline : Math.max(0, deadline - performance.now())
}

/**
 * One bounded blocking sleep while `i32[index] === value`. Returns false only when the slice
 * timed out; 'ok' and 'not-equal' both mean "look again". Blocks the thread: workers only.
 */
export function sleepOn(i32: Int32Array, index: number, value: number, timeoutMs: number): boolean {
  return Atomics.wait(i32, index, value, Math.min(timeoutMs, WAIT_SLICE_MS)) !== 'timed-out'
}

/**
 * Atomics.waitAsync promises don't keep a worker (or the main thread) alive: with nothing else
 * pending the event loop would exit under the waiter. One interval timer per thread holds the loop
 * open while any wait is outstanding: ref'd by the first waiter, unref'd by the last (a handle
 * ref/unref, not a timer created and cleared per wait).
 */
let keepAlive: ReturnType<typeof setInterval> | undefined
let asyncWaits = 0

function holdLoop(): void {
  if (asyncWaits++ > 0) return
  keepAlive ??= setInterval(noop, 2 ** 31 - 1)
  keepAlive.ref()
}

function releaseLoop(): void {
  if (--asyncWaits === 0) keepAlive?.unref()
}

/** The async twin of sleepOn (see holdLoop for what keeps the event loop alive meanwhile). */
export function sleepOnAsync(
  i32: Int32Array,
  index: number,
  value: number,
  timeoutMs: number,
): Promise<boolean> {
  const res = Atomics.waitAsync(i32, index, value, Math.min(timeoutMs, WAIT_SLICE_MS))
  if (!res.async) return Promise.resolve(res.value !== 'timed-out')
  holdLoop()
  return res.value.then((v) => {
    releaseLoop()
    return v !== 'timed-out'
  })
}

/**
 * Batched doorbells: a doorbell made by createDoorbell has a second word (byte 4 of its buffer)
 * counting the threads asleep on it. A producer always bumps the doorbell but calls Atomics.notify
 * only when that count is non-zero, so a consumer that is awake costs its producers no notify per
 * publish. Dekker, as in RingProducer.publish: the sleeper raises the count, then re-reads the
 * doorbell before sleeping; the producer bumps the doorbell, then reads the count. Both are
 * seq-cst, so either the sleeper sees the bump and does not sleep, or the producer sees the
 * sleeper and notifies. A doorbell without room for the count (any other Int32Array of length 1
 * is accepted too) is always notified.
 */
const sleeperWords = new WeakMap<Int32Array, Int32Array | null>()

export function sleepersOf(doorbell: Int32Array): Int32Array | undefined {
  let w = sleeperWords.get(doorbell)
  if (w === undefined) {
    w =
      doorbell.length === 1 && doorbell.byteOffset + 8 <= doorbell.buffer.byteLength
        ? new Int32Array(doorbell.buffer, doorbell.byteOffset + 4, 1)
        : null
    sleeperWords.set(doorbell, w)
  }
  return w ?? undefined
}

/** Bump the doorbell; notify only if someone sleeps on it (see sleepersOf). */
export function bumpDoorbell(doorbell: Int32Array, sleepers: Int32Array | undefined): void {
  Atomics.add(doorbell, 0, 1)
  // Who waits: the consumer sleeping in waitDoorbell*/RingConsumer.wait* on this word.
  if (sleepers === undefined || Atomics.load(sleepers, 0) !== 0) Atomics.notify(doorbell, 0)
}

/** One bounded blocking sleep on a doorbell, registered as a sleeper (see sleepersOf). */
export function sleepOnDoorbell(doorbell: Int32Array, snapshot: number, timeoutMs: number): boolean {
  const sleepers = sleepersOf(doorbell)
  if (sleepers === undefined) return sleepOn(doorbell, 0, snapshot, timeoutMs)
  Atomics.add(sleepers, 0, 1)
  try {
    return sleepOn(doorbell, 0, snapshot, timeoutMs)
  } finally {
    Atomics.sub(sleepers, 0, 1)
  }
}

/** The async twin of sleepOnDoorbell. */
export async function sleepOnDoorbellAsync(
  doorbell: Int32Array,
  snapshot: number,
  timeoutMs: number,
): Promise<boolean> {
  const sleepers = sleepersOf(doorbell)
  if (sleepers === undefined) return sleepOnAsync(doorbell, 0, snapshot, timeoutMs)
  Atomics.add(sleepers, 0, 1)
  try {
    return await sleepOnAsync(doorbell, 0, snapshot, timeoutMs)
  } finally {
    Atomics.sub(sleepers, 0, 1)
  }
}

/** A doorbell word on its own 64-byte line, ready to share with workers through postMessage. */
export function createDoorbell(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(64), 0, 1)
}

/** Ring a doorbell for a non-ring event (e.g. a durable watermark moved). */
export function ringDoorbell(doorbell: Int32Array): void {
  bumpDoorbell(doorbell, sleepersOf(doorbell))
}

/**
 * Sleep until the doorbell moves away from `snapshot` (taken with Atomics.load BEFORE checking
 * the rings; see the pattern above) or `timeoutMs` passes. Blocking: worker threads only.
 */
export function waitDoorbell(doorbell: Int32Array, snapshot: number, timeoutMs: number): 'ok' | 'timed-out' {
  const deadline = deadlineFor(timeoutMs)
  for (;;) {
    if (Atomics.load(doorbell, 0) !== snapshot) return 'ok'
    const left = remainingMs(deadline)
    if (left <= 0) return 'timed-out'
    sleepOnDoorbell(doorbell, snapshot, left)
  }
}

/** Non-blocking waitDoorbell, for the main thread. */
export async function waitDoorbellAsync(
  doorbell: Int32Array,
  snapshot: number,
  timeoutMs: number,
): Promise<'ok' | 'timed-out'> {
  const deadline = deadlineFor(timeoutMs)
  for (;;) {
    if (Atomics.load(doorbell, 0) !== snapshot) return 'ok'
    const left = remainingMs(deadline)
    if (left <= 0) return 'timed-out'
    await sleepOnDoorbellAsync(doorbell, snapshot, left)
  }
}
