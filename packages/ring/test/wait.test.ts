import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { Worker } from 'node:worker_threads'
import test from 'ava'
import {
  CONTROL_BYTES,
  createDoorbell,
  createRing,
  MI_ERR_RING_OPT_INVALID,
  MI_ERR_RING_RECORD_TOO_LARGE,
  RingConsumer,
  RingProducer,
  ringDoorbell,
  SPACE_WAITER,
  sleepersOf,
  waitDoorbell,
  waitDoorbellAsync,
} from '../src/internal.ts'
import type { WorkerJob } from './fixtures/_ring-worker.ts'

const workerUrl = new URL('./fixtures/_ring-worker.ts', import.meta.url)

function full() {
  const sab = createRing(1024)
  const p = new RingProducer(sab)
  const c = new RingConsumer(sab)
  let n = 0
  while (p.tryWrite(1, n, new Uint8Array(56))) n++
  return { sab, p, c, n }
}

test('waitForSpace resolves only after the consumer releases', async (t) => {
  const { sab, p, c } = full()
  let settled: string | undefined
  const pending = p.waitForSpace(56).then((r) => {
    settled = r
    return r
  })
  await sleep(30)
  t.is(settled, undefined)
  t.true(c.read(() => {}, 1) === 1, 'waitForSpace published the staged records')
  await sleep(30)
  t.is(settled, undefined, 'read but not released')
  c.release()
  t.is(await pending, 'ok')
  t.is(Atomics.load(new Int32Array(sab, 0, CONTROL_BYTES / 4), SPACE_WAITER), 0, 'flag lowered again')
  t.true(p.tryWrite(1, 99, new Uint8Array(56)))
})

test('waitForSpace: ok at once when it fits, timed-out, closed, too large', async (t) => {
  const { sab, p, c } = full()
  t.is(await p.waitForSpace(48, 0), 'ok', '56 bytes free: a 56-byte record fits')
  t.is(await p.waitForSpace(56, 0), 'timed-out')
  t.is(await p.waitForSpace(56, 20), 'timed-out')
  t.is(Atomics.load(new Int32Array(sab, 0, CONTROL_BYTES / 4), SPACE_WAITER), 0, 'flag lowered again')
  await t.throwsAsync(p.waitForSpace(p.maxRecordBytes + 1), { instanceOf: MI_ERR_RING_RECORD_TOO_LARGE })
  c.read(() => {})
  c.release()
  t.is(await p.waitForSpace(p.maxRecordBytes, 0), 'ok')
  const pending = p.waitForSpace(p.maxRecordBytes)
  t.is(await pending, 'ok')
  t.true(p.tryWrite(1, 1, new Uint8Array(p.maxRecordBytes)))
  const blocked = p.waitForSpace(p.maxRecordBytes)
  p.close()
  t.is(await blocked, 'closed', 'close() wakes its own waiter')
  t.is(await p.waitForSpace(1), 'closed')
})

test('waitForSpace resolves when a worker releases', async (t) => {
  const { sab, p, n } = full()
  const w = new Worker(workerUrl, { workerData: { role: 'drain', sab } satisfies WorkerJob })
  await once(w, 'message')
  const done = once(w, 'message')
  t.is(await p.waitForSpace(56, 10_000), 'ok')
  let more = 0
  for (let i = 0; i < 1000; i++) {
    while (!p.tryWrite(1, i, new Uint8Array(56))) t.is(await p.waitForSpace(56, 10_000), 'ok')
    more++
  }
  p.close()
  t.deepEqual(await done, [n + more])
  await w.terminate()
})

test('doorbell: publish and close ring it once each; an empty publish does not', (t) => {
  const doorbell = createDoorbell()
  const sab = createRing(1024)
  const p = new RingProducer(sab, { doorbell })
  p.publish()
  t.is(Atomics.load(doorbell, 0), 0)
  p.tryWrite(1, 1, new Uint8Array(1))
  p.tryWrite(1, 2, new Uint8Array(1))
  p.publish()
  t.is(Atomics.load(doorbell, 0), 1, 'one ring per batch')
  p.close()
  t.is(Atomics.load(doorbell, 0), 2)
  t.throws(() => new RingProducer(createRing(1024), { doorbell: new Int32Array(1) }), {
    instanceOf: MI_ERR_RING_OPT_INVALID,
  })
})

test('waitDoorbell: a stale snapshot returns at once, a current one times out', (t) => {
  const doorbell = createDoorbell()
  const snapshot = Atomics.load(doorbell, 0)
  ringDoorbell(doorbell)
  t.is(waitDoorbell(doorbell, snapshot, 10_000), 'ok', 'rang between snapshot and wait: not lost')
  t.is(waitDoorbell(doorbell, Atomics.load(doorbell, 0), 10), 'timed-out')
})

test('waitDoorbellAsync wakes on ringDoorbell from a timer', async (t) => {
  const doorbell = createDoorbell()
  const snapshot = Atomics.load(doorbell, 0)
  setTimeout(() => ringDoorbell(doorbell), 20)
  t.is(await waitDoorbellAsync(doorbell, snapshot, 10_000), 'ok')
  t.is(await waitDoorbellAsync(doorbell, Atomics.load(doorbell, 0), 10), 'timed-out')
})

test('consumer with a doorbell: waitAsync returns ok when another ring on the same doorbell publishes', async (t) => {
  const doorbell = createDoorbell()
  const a = createRing(1024)
  const b = createRing(1024)
  const ca = new RingConsumer(a, { doorbell })
  const pb = new RingProducer(b, { doorbell })
  const pa = new RingProducer(a, { doorbell })
  t.is(await ca.waitAsync(10), 'timed-out')
  setTimeout(() => {
    pb.tryWrite(1, 1, new Uint8Array(1))
    pb.publish()
  }, 20)
  t.is(await ca.waitAsync(10_000), 'ok', 'woken by ring b')
  t.is(
    ca.read(() => {}),
    0,
    'ring a itself is empty',
  )
  pa.tryWrite(1, 1, new Uint8Array(1))
  pa.publish()
  t.is(await ca.waitAsync(0), 'ok')
  pa.close()
  t.is(
    ca.read(() => {}),
    1,
  )
  t.is(await ca.waitAsync(0), 'closed')
})

test('consumer.wait / waitAsync without doorbell: ok, timed-out, closed', async (t) => {
  const sab = createRing(1024)
  const p = new RingProducer(sab)
  const c = new RingConsumer(sab)
  t.is(c.wait(0), 'timed-out')
  t.is(await c.waitAsync(5), 'timed-out')
  setTimeout(() => {
    p.tryWrite(1, 1, new Uint8Array(1))
    p.publish()
  }, 20)
  t.is(await c.waitAsync(10_000), 'ok')
  t.is(c.wait(0), 'ok')
  t.is(
    c.read(() => {}),
    1,
  )
  setTimeout(() => p.close(), 20)
  t.is(await c.waitAsync(10_000), 'closed')
  t.true(c.closed)
})

test('Atomics.waitAsync does not keep a worker alive; consumer.waitAsync does', async (t) => {
  const sab = createRing(1024)
  const w = new Worker(workerUrl, {
    workerData: { role: 'idle-wait-async', sab, timeoutMs: 300 } satisfies WorkerJob,
  })
  const [msg] = await once(w, 'message')
  t.is(msg, 'timed-out', 'without the keep-alive timer the worker would exit (code 13) first')
  await w.terminate()
})

test('two waitForSpace calls in flight: the waiter flag stays up until the last one leaves', async (t) => {
  const { sab, p, c } = full()
  const ctrl = new Int32Array(sab, 0, CONTROL_BYTES / 4)
  const long = p.waitForSpace(56)
  t.is(await p.waitForSpace(56, 20), 'timed-out')
  t.is(Atomics.load(ctrl, SPACE_WAITER), 1, 'the long waiter still needs its notify')
  c.read(() => {}, 1)
  c.release()
  t.is(await long, 'ok')
  t.is(Atomics.load(ctrl, SPACE_WAITER), 0)
})

test('wait() with spinUs: picks up a publish made while it polls, and still sleeps and times out', async (t) => {
  const sab = createRing(1024)
  const p = new RingProducer(sab)
  const c = new RingConsumer(sab, { spinUs: 200 })
  t.is(c.wait(1), 'timed-out')
  p.tryWrite(1, 1, new Uint8Array(1))
  p.publish()
  t.is(c.wait(1000), 'ok')
  t.throws(() => new RingConsumer(sab, { spinUs: -1 }), { instanceOf: MI_ERR_RING_OPT_INVALID })
})

test('batched doorbells: sleepers are counted while asleep, and a bump with nobody asleep still moves the word', async (t) => {
  const bell = createDoorbell()
  const sleepers = sleepersOf(bell)
  t.truthy(sleepers, 'createDoorbell leaves room for the sleeper count')
  t.is(sleepersOf(new Int32Array(new SharedArrayBuffer(4))), undefined, 'no room: always notified')
  t.is(waitDoorbell(bell, Atomics.load(bell, 0), 5), 'timed-out')
  t.is(Atomics.load(sleepers!, 0), 0)
  // Nobody asleep: the bump alone must be seen by the next snapshot check.
  const snap = Atomics.load(bell, 0)
  ringDoorbell(bell)
  t.is(waitDoorbell(bell, snap, 60_000), 'ok')
  // An async sleeper is counted until it wakes, and a ring wakes it.
  const snap2 = Atomics.load(bell, 0)
  const woke = waitDoorbellAsync(bell, snap2, 60_000)
  t.is(Atomics.load(sleepers!, 0), 1)
  ringDoorbell(bell)
  t.is(await woke, 'ok')
  t.is(Atomics.load(sleepers!, 0), 0)
  // (Cross-thread doorbell wake-ups: threads.test.ts 'consume-doorbell'.)
})
