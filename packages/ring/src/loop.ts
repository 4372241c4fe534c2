/**
 * runDoorbellLoop: the consumer loop every ring thread runs (the main thread over its outbound
 * rings, each parser over its inbound ring, the writer over the parsers' rings), so the doorbell
 * pattern of wait.ts and the sleep/yield policy exist once.
 *
 * Slots (one doorbell = two Int32 words, see wait.ts sleepersOf):
 * - word 0 (the doorbell): producers Atomics.add it after every publish (RingProducer with
 *   `{ doorbell }`) or other event (ringDoorbell); only this loop's thread reads it, once per pass
 *   BEFORE the pass looks at anything, and sleeps while it still holds that snapshot.
 * - word 1 (sleepers): only this loop's thread raises and lowers it, around each sleep; producers
 *   read it and Atomics.notify word 0 only while it is non-zero.
 * So the only waiter on a doorbell's notify is the one thread running this loop on it.
 *
 * A thread that may block (a worker) sleeps in Atomics.wait: a few µs to wake, against ~40 µs for
 * Atomics.waitAsync. While it blocks its event loop does not run (postMessage commands, comlink,
 * timers), so the loop lets it run after a sleep that timed out and at least every `yieldMs`; a
 * pass can also ask for an async sleep when it expects a message, or for a yield. A ring that woke
 * the thread but brought no ring work is taken as a message's (a sender rings after posting, see
 * engine threads.ts): the event loop runs before the next sleep. The main thread (`blocking:
 * false`) always waits with waitAsync and yields between busy passes (socket events).
 */
import { waitDoorbell, waitDoorbellAsync } from './wait.ts'

/**
 * What a pass asks for next:
 * - 'again': it did work; pass again at once (blocking loops yield only every `yieldMs`);
 * - 'yield': let the event loop run first (timers, messages, an async I/O completion);
 * - 'stop': leave the loop;
 * - `{ sleepMs, async? }`: nothing to do; sleep until the doorbell rings or `sleepMs` passes,
 *   with waitAsync when `async` (the event loop runs meanwhile).
 */
export type LoopNext = 'again' | 'yield' | 'stop' | { sleepMs: number; async?: boolean }

export interface DoorbellLoopOptions {
  /** Sleep in Atomics.wait, blocking the thread (workers only). Default false: waitAsync. */
  blocking?: boolean
  /** Blocking loops: the longest the event loop goes without a turn while busy. Default 2 ms. */
  yieldMs?: number
}

const yieldLoop = () => new Promise<void>((r) => setImmediate(r))

/** Run `pass` until it returns 'stop' (see LoopNext). Resolves then. */
export async function runDoorbellLoop(
  doorbell: Int32Array,
  pass: () => LoopNext,
  opts: DoorbellLoopOptions = {},
): Promise<void> {
  const blocking = opts.blocking ?? false
  const yieldMs = opts.yieldMs ?? 2
  let lastYield = performance.now()
  /** A blocking sleep ended by a ring, and the event loop has not run since. */
  let rung = false
  for (;;) {
    // Snapshot BEFORE the pass looks at the rings (wait.ts): a ring after it ends the sleep.
    const snapshot = Atomics.load(doorbell, 0)
    const next = pass()
    if (next === 'stop') return
    if (next === 'again' && blocking && performance.now() - lastYield < yieldMs) continue
    if (
      next === 'again' ||
      next === 'yield' ||
      (blocking && (rung || performance.now() - lastYield >= yieldMs))
    ) {
      await yieldLoop()
    } else if (!blocking || next.async) {
      await waitDoorbellAsync(doorbell, snapshot, next.sleepMs)
    } else if (waitDoorbell(doorbell, snapshot, next.sleepMs) === 'ok') {
      rung = true
      continue
    } else await yieldLoop()
    rung = false
    lastYield = performance.now()
  }
}
