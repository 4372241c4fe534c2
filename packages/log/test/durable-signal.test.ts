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
