import test from 'ava'
import { Metrics } from '../src/index.ts'

const find = <T extends { name: string }>(list: T[], name: string) => list.find((x) => x.name === name)

test('a window reads what was recorded since its previous read; /metrics stays cumulative', (t) => {
  const m = new Metrics()
  const h = m.histogram('mi_flush_latency_us', 'Flush')
  h.record(7) // before the window: not in its first read
  const w = m.window('dashboard')
  for (let i = 0; i < 1000; i++) h.record(100)
  for (let i = 0; i < 20; i++) h.record(50_000) // the spike: 2 % of this interval
  const spike = find(w.read().histograms, 'mi_flush_latency_us')
  t.is(spike?.count, 1020)
  t.true(Math.abs((spike?.p99 ?? 0) - 50_000) < 100)

  for (let i = 0; i < 1000; i++) h.record(120)
  const calm = find(w.read().histograms, 'mi_flush_latency_us')
  t.is(calm?.count, 1000)
  t.is(calm?.sum, 120_000)
  t.true(Math.abs((calm?.p99 ?? 0) - 120) <= 1)
  t.true(Math.abs((calm?.max ?? 0) - 120) <= 1) // the max is the interval's too

  const idle = find(w.read().histograms, 'mi_flush_latency_us')
  t.deepEqual(idle, {
    name: 'mi_flush_latency_us',
    unit: 'us',
    count: 0,
    sum: 0,
    p50: 0,
    p99: 0,
    p999: 0,
    max: 0,
  })

  const total = find(m.summary().histograms, 'mi_flush_latency_us')
  t.is(total?.count, 2021)
  t.true(Math.abs((total?.max ?? 0) - 50_000) < 100)
})

test('worker snapshots: every value lands in exactly one interval, across sources and restarts', (t) => {
  const main = new Metrics()
  const workers = [new Metrics(), new Metrics()]
  const hist = (r: Metrics) => r.histogram('mi_ack_latency_us', 'Ack')
  const w = main.window('dashboard')
  const pull = () => {
    for (const [i, r] of workers.entries()) main.mergeFrom(`parser-${i}`, r.snapshot())
  }
  let seen = 0

  hist(workers[0] as Metrics).record(10)
  hist(workers[1] as Metrics).record(20)
  pull()
  seen += find(w.read().histograms, 'mi_ack_latency_us')?.count ?? 0
  t.is(seen, 2)

  // Recorded after the pull: not in this interval, in the next one.
  hist(workers[0] as Metrics).record(30)
  seen += find(w.read().histograms, 'mi_ack_latency_us')?.count ?? 0
  t.is(seen, 2)
  pull()
  const late = find(w.read().histograms, 'mi_ack_latency_us')
  t.is(late?.count, 1)
  t.true(Math.abs((late?.max ?? 0) - 30) <= 1)

  // parser-1 restarts: a new registry from zero. Its old snapshot is folded in, nothing negative.
  workers[1] = new Metrics()
  hist(workers[1] as Metrics).record(40)
  pull()
  const after = find(w.read().histograms, 'mi_ack_latency_us')
  t.is(after?.count, 1)
  t.true(Math.abs((after?.p50 ?? 0) - 40) <= 1)
  t.is(find(main.summary().histograms, 'mi_ack_latency_us')?.count, 4)

  // An older snapshot arriving after a newer one was read: nothing now, nothing counted twice.
  const older = workers[0]?.snapshot() as ReturnType<Metrics['snapshot']>
  hist(workers[0] as Metrics).record(50)
  pull()
  t.is(find(w.read().histograms, 'mi_ack_latency_us')?.count, 1)
  main.mergeFrom('parser-0', older)
  t.is(find(w.read().histograms, 'mi_ack_latency_us')?.count, 0)
  pull()
  t.is(find(w.read().histograms, 'mi_ack_latency_us')?.count, 0)
})

test('windows are independent readers, and only 16 are kept', (t) => {
  const m = new Metrics()
  const h = m.histogram('mi_group_records', 'Group', { unit: 'records' })
  h.record(5)
  m.window('a') // a window starts when it is first named
  t.is(find(m.window('a').read().histograms, 'mi_group_records')?.count, 0)
  h.record(7)
  m.window('b')
  h.record(9)
  // 'a' has read nothing of 7 and 9 yet; 'b' started between them.
  t.is(find(m.window('b').read().histograms, 'mi_group_records')?.count, 1)
  t.is(find(m.window('a').read().histograms, 'mi_group_records')?.count, 2)
  t.is(m.window('a'), m.window('a'))

  const first = m.window('a')
  for (let i = 0; i < 16; i++) m.window(`top-${i}`)
  t.not(m.window('a'), first) // the least recently read was dropped and starts over
})
