// The two helpers every ring thread shares: RingBacklog (records that did not fit yet, in order)
// and runDoorbellLoop (the consumer loop and its sleep/yield policy).
import { setTimeout as sleep } from 'node:timers/promises'
import test from 'ava'
import {
  createDoorbell,
  createRing,
  type LoopNext,
  RingBacklog,
  RingConsumer,
  RingProducer,
  ringDoorbell,
  runDoorbellLoop,
} from '../src/index.ts'

function drainAll(c: RingConsumer): Array<[number, number, number[]]> {
  const out: Array<[number, number, number[]]> = []
  c.read((data, kind, tag) => {
    out.push([kind, tag, [...data]])
  })
  c.release()
  return out
}

test('a backlog keeps order across rings and copies what waits', (t) => {
  const sabA = createRing(1024)
  const sabB = createRing(1024)
  const a = new RingProducer(sabA)
  const b = new RingProducer(sabB)
  const ca = new RingConsumer(sabA)
  const cb = new RingConsumer(sabB)
  const backlog = new RingBacklog()
  let n = 0
  while (a.tryWrite(1, n, new Uint8Array(56))) n++ // ring A is full
  const scratch = new Uint8Array(28).fill(7)
  t.false(backlog.write(a, 2, 100, [scratch, new Uint8Array(28).fill(8)]))
  scratch.fill(0) // the caller reuses its buffer: the backlog holds a copy
  // B has room, but the record must not overtake the one waiting for A.
  t.false(backlog.write(b, 3, 101, Uint8Array.of(9)))
  t.is(backlog.length, 2)
  t.false(backlog.flush())
  a.publish()
  t.is(drainAll(ca).length, n)
  t.true(backlog.flush())
  a.publish()
  b.publish()
  t.deepEqual(drainAll(ca), [[2, 100, [...new Array(28).fill(7), ...new Array(28).fill(8)]]])
  t.deepEqual(drainAll(cb), [[3, 101, [9]]])
  // Empty again: writes go straight to the ring.
  t.true(backlog.write(b, 4, 102, Uint8Array.of(1)))
})

test('drain waits for the consumer, writes everything and publishes it', async (t) => {
  const sab = createRing(1024)
  const p = new RingProducer(sab)
  const c = new RingConsumer(sab)
  const backlog = new RingBacklog({ copy: false })
  let n = 0
  while (p.tryWrite(1, n, new Uint8Array(56))) n++
  for (let i = 0; i < 3; i++) t.false(backlog.write(p, 2, i, new Uint8Array(56)))
  let done = false
  const drained = backlog.drain(50).then((r) => {
    done = true
    return r
  })
  await sleep(20)
  t.false(done)
  p.publish()
  const got: number[] = []
  while (!done) {
    c.read((_d, kind, tag) => {
      if (kind === 2) got.push(tag)
    })
    c.release()
    await sleep(5)
  }
  t.is(await drained, 'ok')
  c.read((_d, kind, tag) => {
    if (kind === 2) got.push(tag)
  })
  t.deepEqual(got, [0, 1, 2])
})

for (const blocking of [false, true]) {
  test(`runDoorbellLoop (${blocking ? 'blocking' : 'async'}): sleeps until rung, passes again on work, stops`, async (t) => {
    const doorbell = createDoorbell()
    let passes = 0
    let work = 0
    const loop = runDoorbellLoop(
      doorbell,
      (): LoopNext => {
        passes++
        if (work < 0) return 'stop'
        if (work > 0) {
          work--
          return 'again'
        }
        // Blocking sleeps are short here: this test runs the loop on the main thread.
        return { sleepMs: blocking ? 1 : 10_000 }
      },
      { blocking },
    )
    await sleep(30)
    const idle = passes
    // A blocking loop wakes on its timeouts; an async one sleeps until rung.
    if (!blocking) t.true(idle <= 2, `passes while idle: ${idle}`)
    work = 5
    ringDoorbell(doorbell)
    await sleep(30)
    t.is(work, 0)
    work = -1
    ringDoorbell(doorbell)
    await loop
    t.pass()
  })
}
