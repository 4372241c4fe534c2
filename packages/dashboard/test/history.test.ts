import test from 'ava'
import { History } from '../src/history.ts'

test('keeps the last `capacity` samples, oldest first, with increasing ids', (t) => {
  const h = new History<number>(3)
  t.deepEqual(h.since(), [])
  t.is(h.latest(), undefined)
  for (let i = 1; i <= 5; i++) t.is(h.push(i * 10), i)
  t.is(h.size, 3)
  t.is(h.lastId, 5)
  t.deepEqual(h.since(), [
    { id: 3, value: 30 },
    { id: 4, value: 40 },
    { id: 5, value: 50 },
  ])
  t.deepEqual(h.latest(), { id: 5, value: 50 })
})

test('since(lastEventId) returns what a reconnecting client missed, bounded by what is kept', (t) => {
  const h = new History<string>(4)
  for (const v of ['a', 'b', 'c', 'd', 'e', 'f']) h.push(v)
  t.deepEqual(
    h.since(4).map((x) => x.value),
    ['e', 'f'],
  )
  t.deepEqual(h.since(6), [])
  // Missed more than is kept: everything kept, no gaps filled with stale slots.
  t.deepEqual(
    h.since(1).map((x) => x.value),
    ['c', 'd', 'e', 'f'],
  )
})

test('memory stays bounded however many samples are pushed', (t) => {
  const h = new History<{ n: number }>(900)
  for (let i = 0; i < 100_000; i++) h.push({ n: i })
  t.is(h.size, 900)
  t.is(h.since().length, 900)
  t.is(h.since()[0]?.value.n, 100_000 - 900)
})

test('rejects a capacity that is not a positive integer', (t) => {
  t.throws(() => new History(0), { instanceOf: RangeError })
  t.throws(() => new History(1.5), { instanceOf: RangeError })
})
