import test from 'ava'
import { openLog, openReader } from '../src/index.ts'
import { body, nowUs, tmpDir } from './helpers.ts'

test('append, sync, read back, reopen', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir)
  const durable: number[] = []
  log.onDurable((l) => durable.push(l))
  const rts = nowUs()
  const a = log.append({
    module: 'm1',
    core: '',
    seq: 1n,
    rts,
    records: [{ stream: 's.a', ts: rts - 5, body: body(10, 1) }],
  })
  const b = log.append({
    module: 'm1',
    core: 'c1',
    seq: 2n,
    rts: rts + 1,
    records: [
      { stream: 's.a', ts: rts, body: body(3, 2) },
      { stream: 's.b', ts: rts + 7, body: new Uint8Array(0) },
    ],
  })
  t.deepEqual(a, { firstLsn: 1, lastLsn: 1 })
  t.deepEqual(b, { firstLsn: 2, lastLsn: 3 })
  t.is(log.moduleHwm('m1'), 2n)
  t.is(log.moduleHwm('nope'), 0n)
  await log.sync()
  t.is(log.durableLsn, 3)
  t.is(durable.at(-1), 3)

  const reader = await openReader(dir)
  t.is(reader.durableLsn(), 3)
  const c = reader.cursor()
  const recs = await c.read()
  t.is(recs.length, 3)
  t.like(recs[0], { lsn: 1, stream: 's.a', module: 'm1', core: '', seq: 1n, ts: rts - 5, rts })
  t.deepEqual(recs[0]!.body, body(10, 1))
  t.like(recs[2], { lsn: 3, stream: 's.b', module: 'm1', core: 'c1', seq: 2n, ts: rts + 7, rts: rts + 1 })
  t.deepEqual(await c.read(), [])
  const filtered = await reader.cursor({ streams: ['s.b'] }).read()
  t.deepEqual(
    filtered.map((r) => r.lsn),
    [3],
  )
  const from2 = await reader.cursor({ fromLsn: 2 }).read({ maxRecords: 1 })
  t.deepEqual(
    from2.map((r) => r.lsn),
    [2],
  )
  await log.close()
  const log2 = await openLog(dir)
  t.is(log2.durableLsn, 3)
  t.is(log2.moduleHwm('m1'), 2n)
  t.deepEqual(
    log2.append({
      module: 'm2',
      core: '',
      seq: 9n,
      rts,
      records: [{ stream: 's.c', ts: rts, body: body(1, 1) }],
    }),
    {
      firstLsn: 4,
      lastLsn: 4,
    },
  )
  await log2.sync()
  const more = await c.read()
  t.deepEqual(
    more.map((r) => [r.lsn, r.stream, r.module]),
    [[4, 's.c', 'm2']],
  )
  await log2.close()
  await reader.close()
})
