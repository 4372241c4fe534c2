// One durable-watermark mechanism (durable-signal.ts): the log publishes, same-process listeners
// and readers wake on it.
import test from 'ava'
import { durableLsnOf, openLog, openReader, watchDurable } from '../src/index.ts'
import { body, nowUs, tmpDir } from './helpers.ts'

test('watchDurable calls every listener with the durable lsn after commits; unsubscribe stops it', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir)
  t.teardown(() => log.close())
  const a: number[] = []
  const b: number[] = []
  const offA = watchDurable(log.durableSignal, (lsn) => a.push(lsn))
  const offB = watchDurable(log.durableSignal, (lsn) => b.push(lsn))
  const rts = nowUs()
  const append = (seq: bigint) =>
    log.append({ module: 'm', core: '', seq, rts, records: [{ stream: 's', ts: rts, body: body(8, 1) }] })
  append(1n)
  await log.sync()
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10))
  }
  await until(() => a.at(-1) === 1 && b.at(-1) === 1)
  t.is(a.at(-1), 1)
  t.is(b.at(-1), 1)
  t.is(durableLsnOf(log.durableSignal), 1)
  offA()
  append(2n)
  await log.sync()
  await until(() => b.at(-1) === 2)
  t.is(b.at(-1), 2)
  t.is(a.at(-1), 1, 'an unsubscribed listener is not called')
  offB()

  // A reader given the signal wakes on it (its file poll is set far beyond the test's patience).
  const reader = await openReader(dir, { durableSignal: log.durableSignal, pollIntervalMs: 60_000 })
  t.teardown(() => reader.close())
  const cursor = reader.cursor({ fromLsn: 3 })
  const woke = cursor.waitForData({ timeoutMs: 30_000 })
  append(3n)
  await log.sync()
  await woke
  t.deepEqual(
    (await cursor.read()).map((r) => r.lsn),
    [3],
  )
})

// The writer can bump the signal between the loop's load and its Atomics.waitAsync: waitAsync then
// answers 'not-equal' synchronously. Before the fix the listeners ran inside watchDurable, and
// Cursor.waitForData's listener called its own unsubscribe before it was assigned (a TDZ
// ReferenceError that killed a benchmark server under load). Forced here by a waitAsync that bumps.
test('a durable move racing the first wait never calls a listener inside watchDurable', async (t) => {
  const signal = new Int32Array(new SharedArrayBuffer(16), 0, 1)
  const real = Atomics.waitAsync
  let raced = false
  Atomics.waitAsync = ((ta: Int32Array, i: number, v: number, ms?: number) => {
    if (!raced && ta === signal) {
      raced = true
      new Float64Array(signal.buffer, 8, 1)[0] = 7
      Atomics.add(signal, 0, 1)
      return { async: false, value: 'not-equal' }
    }
    return real(ta, i, v, ms)
  }) as typeof Atomics.waitAsync
  t.teardown(() => {
    Atomics.waitAsync = real
  })
  let returned = false
  const calls: Array<{ lsn: number; afterReturn: boolean }> = []
  let off: (() => void) | undefined
  off = watchDurable(signal, (lsn) => {
    calls.push({ lsn, afterReturn: returned })
    off!()
  })
  returned = true
  await new Promise((r) => setTimeout(r, 20))
  t.true(raced)
  t.deepEqual(calls, [{ lsn: 7, afterReturn: true }])
})
