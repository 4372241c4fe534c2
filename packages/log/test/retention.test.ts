import test from 'ava'
import { listSegments, openLog, openReader } from '../src/index.ts'
import { body, nowUs, tmpDir } from './helpers.ts'

type AnyLog = Awaited<ReturnType<typeof openLog>>
const seg = 8 * 1024

async function fill(log: AnyLog, n: number, rts = nowUs()): Promise<void> {
  for (let i = 0; i < n; i++) {
    const seq = log.moduleHwm('m') + 1n
    log.append({ module: 'm', core: '', seq, rts, records: [{ stream: 's', ts: rts, body: body(500, i) }] })
    if (i % 4 === 3) await log.sync()
  }
  await log.sync()
}

const until = async (cond: () => Promise<boolean>): Promise<void> => {
  for (let i = 0; i < 200 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 10))
}

test('retention by size deletes the oldest sealed segments; readers start at the oldest left', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir, {
    segmentSizeBytes: seg,
    retention: { maxBytes: 4 * seg, checkIntervalMs: 10 },
  })
  await fill(log, 200)
  await until(async () => (await listSegments(dir)).reduce((a, s) => a + s.sizeBytes, 0) <= 5 * seg)
  const segs = await listSegments(dir)
  t.true(segs.reduce((a, s) => a + s.sizeBytes, 0) <= 5 * seg)
  t.true(segs[0]!.base > 1)
  // retention may be between unlink and bookkeeping: wait until both views agree
  await until(async () => log.stats().segments === (await listSegments(dir)).length)
  const st = log.stats()
  t.is(st.segments, (await listSegments(dir)).length)
  t.true(st.oldestRecordTsUs !== undefined)
  const reader = await openReader(dir)
  const recs = await reader.cursor({ fromLsn: 1 }).read()
  t.is(recs[0]!.lsn, segs[0]!.base)
  await reader.close()
  await log.close()
})

test('retention never deletes what a protected group has not consumed, until forceDeleteAfterMs', async (t) => {
  const dir = tmpDir(t)
  const retention = { maxBytes: 2 * seg, protectGroups: ['g'], checkIntervalMs: 10 }
  const log = await openLog(dir, { segmentSizeBytes: seg, retention })
  await fill(log, 100)
  await new Promise((r) => setTimeout(r, 50))
  const before = await listSegments(dir)
  t.is(before[0]!.base, 1, 'unconsumed: nothing deleted')
  const reader = await openReader(dir)
  const cut = before[3]!.base
  await reader.groups.commit('g', cut)
  await until(async () => (await listSegments(dir))[0]!.base === cut)
  t.is((await listSegments(dir))[0]!.base, cut, 'consumed segments deleted, the rest kept')
  await reader.close()
  await log.close()

  // Old data (rts an hour ago) past forceDeleteAfterMs goes even though unconsumed.
  const dir2 = tmpDir(t)
  const log2 = await openLog(dir2, {
    segmentSizeBytes: seg,
    retention: { maxAgeMs: 1000, forceDeleteAfterMs: 60_000, protectGroups: ['g'], checkIntervalMs: 10 },
  })
  await fill(log2, 60, nowUs() - 3600e6)
  await until(async () => (await listSegments(dir2)).length === 1)
  t.is((await listSegments(dir2)).length, 1)
  await log2.close()

  // Young data is kept by age.
  const dir3 = tmpDir(t)
  const log3 = await openLog(dir3, {
    segmentSizeBytes: seg,
    retention: { maxAgeMs: 3_600_000, checkIntervalMs: 10 },
  })
  await fill(log3, 60)
  await new Promise((r) => setTimeout(r, 50))
  t.is((await listSegments(dir3))[0]!.base, 1)
  await log3.close()
})
