// The durable watermark for readers in the writer's process: one mechanism, owned by the log (see
// "Durable watermark" in index.ts). Readers in other processes use the `durable` file instead.
//
//   Int32Array over SharedArrayBuffer(16):
//     Int32 [0]   bumped (Atomics.add + notify) after every durable move; written only by the writer
//     Float64 @8  the durable lsn, stored before the bump; written only by the writer
//
// Waiters: watchDurable's one Atomics.waitAsync loop per signal per thread, which calls every
// listener of that thread. A waiter that sees word 0 move reads the lsn after it, so it sees that
// lsn or a newer one. The signal crosses threads by postMessage / workerData (the buffer is shared).

export function createDurableSignal(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(16), 0, 1)
}

/** The writer's side: called by the log after every durable move. */
export function publishDurable(signal: Int32Array, durableLsn: number): void {
  new Float64Array(signal.buffer, 8, 1)[0] = durableLsn
  Atomics.add(signal, 0, 1)
  Atomics.notify(signal, 0)
}

/** The last published durable lsn (0 before the first commit of this writer). */
export function durableLsnOf(signal: Int32Array): number {
  return new Float64Array(signal.buffer, 8, 1)[0]!
}

interface Watch {
  listeners: Set<(durableLsn: number) => void>
  running: boolean
}
const watches = new WeakMap<Int32Array, Watch>()

/**
 * Call `listener(durableLsn)` after every durable move (several moves may make one call). Any
 * thread; never blocks. Returns the unsubscribe. While nobody listens, nothing waits: the loop
 * (and the keep-alive of its waitAsync) ends with the last listener.
 */
export function watchDurable(signal: Int32Array, listener: (durableLsn: number) => void): () => void {
  let w = watches.get(signal)
  if (!w) {
    w = { listeners: new Set(), running: false }
    watches.set(signal, w)
  }
  const watch = w
  watch.listeners.add(listener)
  if (!watch.running) void loop(signal, watch)
  return () => {
    watch.listeners.delete(listener)
  }
}

async function loop(signal: Int32Array, w: Watch): Promise<void> {
  w.running = true
  const lsn = new Float64Array(signal.buffer, 8, 1)
  // Never call a listener from inside watchDurable: when the writer bumps word 0 between the load
  // and waitAsync below, waitAsync answers 'not-equal' synchronously, and a listener that
  // unsubscribes (Cursor.waitForData's `off`) would run before watchDurable returned its
  // unsubscribe: a TDZ ReferenceError that killed servers under load.
  await undefined
  while (w.listeners.size > 0) {
    const seen = Atomics.load(signal, 0)
    const res = Atomics.waitAsync(signal, 0, seen, 1000)
    if (res.async) await res.value
    if (Atomics.load(signal, 0) !== seen) for (const l of [...w.listeners]) l(lsn[0]!)
  }
  w.running = false
}
