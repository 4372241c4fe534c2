// GroupCursor hands out the same records as the record cursor, a whole group at a time.
import fs from 'node:fs'
import path from 'node:path'
import test from 'ava'
import {
  type CommittedGroup,
  GroupCursor,
  groupRecord,
  type LogGap,
  openLog,
  openReader,
  readSegment,
  type StoredRecord,
} from '../src/internal.ts'
import { body, nowUs, tmpDir } from './helpers.ts'

/** Appends from 4 modules (cores, streams mixed), a group commit every `every` appends. */
async function fill(dir: string, compression: 'none' | 'zstd', appends = 60, every = 4): Promise<number> {
  const log = await openLog(dir, { compression })
  const rts0 = nowUs()
  for (let i = 0; i < appends; i++) {
    const m = `m${i % 4}`
    log.append({
      module: m,
      core: i % 3 === 0 ? '' : `c${i % 2}`,
      seq: log.moduleHwm(m) + 1n,
      rts: rts0 + i * 10,
      records: Array.from({ length: 1 + (i % 7) }, (_, k) => ({
        stream: `s.${(i + k) % 3}`,
        ts: rts0 + i * 10 - k * 3,
        body: body(k * 5, i),
      })),
    })
    if (i % every === every - 1) await log.sync()
  }
  await log.sync()
  await log.close()
  return rts0
}

async function readAll<T>(read: () => Promise<T[]>): Promise<T[]> {
  const out: T[] = []
  for (;;) {
    const r = await read()
    if (r.length === 0) return out
    out.push(...r)
  }
}

function flatten(groups: CommittedGroup[]): StoredRecord[] {
  const out: StoredRecord[] = []
  for (const g of groups) for (let i = g.first; i < g.count; i++) out.push(groupRecord(g, i))
  return out
}

for (const compression of ['none', 'zstd'] as const) {
  test(`groups give the record cursor's records (${compression}; from lsn, from time, small reads)`, async (t) => {
    const dir = tmpDir(t)
    const rts0 = await fill(dir, compression)
    const reader = await openReader(dir)
    for (const opts of [{}, { fromLsn: 7 }, { fromLsn: 100 }, { fromTimeUs: rts0 + 255 }]) {
      const c = reader.cursor(opts)
      const want = await readAll(() => c.read({ maxRecords: 100_000 }))
      c.close()
      t.true(want.length > 0)
      // sliceBytes 1: a yield between every two groups of a chunk; the same records either way.
      for (const [maxRecords, sliceBytes] of [[1], [10], [1000], [1000, 1], [10, 200]]) {
        const gc = new GroupCursor(reader, { ...opts, sliceBytes })
        const groups = await readAll(() => gc.read({ maxRecords }))
        const what = `${JSON.stringify(opts)} maxRecords ${maxRecords} sliceBytes ${sliceBytes}`
        t.deepEqual(flatten(groups), want, what)
        t.is(gc.nextLsn, reader.durableLsn() + 1)
        gc.close()
      }
    }
    // One read keeps to maxRecords unless a single group is bigger.
    const gc = new GroupCursor(reader)
    const first = await gc.read({ maxRecords: 12 })
    const n = first.reduce((a, g) => a + g.count - g.first, 0)
    t.true(n <= 12 || first.length === 1)
    gc.close()
    await reader.close()
  })
}

test('a damaged group is skipped with the same accounted gap as the record cursor', async (t) => {
  const dir = tmpDir(t)
  await fill(dir, 'none', 40, 4)
  const gs: { offset: number }[] = []
  for await (const g of readSegment(dir, 1)) gs.push({ offset: g.offset })
  const fd = fs.openSync(path.join(dir, '00000000000000000001.seg'), 'r+')
  const b = Buffer.alloc(1)
  fs.readSync(fd, b, 0, 1, gs[3]!.offset + 20)
  b[0]! ^= 0x40
  fs.writeSync(fd, b, 0, 1, gs[3]!.offset + 20)
  fs.closeSync(fd)
  const gaps: LogGap[] = []
  const ggaps: LogGap[] = []
  const reader = await openReader(dir, { onGap: (g) => gaps.push(g) })
  const c = reader.cursor()
  const want = await readAll(() => c.read())
  const gc = new GroupCursor(reader, { onGap: (g) => ggaps.push(g) })
  const got = flatten(await readAll(() => gc.read({ maxRecords: 5 })))
  t.deepEqual(got, want)
  t.is(gaps.length, 1)
  t.deepEqual(ggaps, gaps)
  t.like(gaps[0], { records: gc.skippedRecords })
  // Decoded in slices (a yield between groups): the same records and the same gap.
  const sgaps: LogGap[] = []
  const sc = new GroupCursor(reader, { onGap: (g) => sgaps.push(g), sliceBytes: 1 })
  t.deepEqual(flatten(await readAll(() => sc.read({ maxRecords: 1000, maxBytes: 1 << 20 }))), want)
  t.deepEqual(sgaps, gaps)
  await reader.close()
})

test('waitForData wakes a group cursor when a writer appends', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir)
  const reader = await openReader(dir, { durableSignal: log.durableSignal })
  const gc = new GroupCursor(reader)
  t.deepEqual(await gc.read(), [])
  const waiting = gc.waitForData({ timeoutMs: 5000 })
  log.append({
    module: 'm',
    core: '',
    seq: 1n,
    rts: nowUs(),
    records: [{ stream: 's', ts: 1, body: body(3, 1) }],
  })
  await log.sync()
  t.true(await waiting)
  const [g] = await gc.read()
  t.like(groupRecord(g!, 0), { lsn: 1, stream: 's', module: 'm', ts: 1 })
  gc.close()
  await reader.close()
  await log.close()
})

/** Groups of 3 appends: of stream `in` only, of `ai.x` only (derived records), or both. */
async function fillDerived(dir: string, compression: 'none' | 'zstd'): Promise<number> {
  const log = await openLog(dir, { compression })
  const rts0 = nowUs()
  for (let g = 0; g < 12; g++) {
    for (let a = 0; a < 3; a++) {
      const i = g * 3 + a
      const m = `m${i % 2}`
      const stream = g % 3 === 0 ? 'in' : g % 3 === 1 ? 'ai.x' : a === 2 ? 'in' : 'ai.x'
      log.append({
        module: m,
        core: '',
        seq: log.moduleHwm(m) + 1n,
        rts: rts0 + i * 10,
        records: Array.from({ length: 1 + (i % 4) }, (_, k) => ({
          stream,
          ts: rts0 + i * 10 - k,
          body: body(k, i),
        })),
      })
    }
    await log.sync()
  }
  await log.close()
  return rts0
}

for (const compression of ['none', 'zstd'] as const) {
  test(`wants: groups of unwanted streams only come back filtered, offsets still advance (${compression})`, async (t) => {
    const dir = tmpDir(t)
    const rts0 = await fillDerived(dir, compression)
    const reader = await openReader(dir)
    const end = reader.durableLsn()
    for (const opts of [
      {},
      { fromLsn: 8 },
      { fromLsn: 12 },
      { fromTimeUs: rts0 + 45 },
      { fromTimeUs: rts0 + 205 },
    ]) {
      const c = reader.cursor({ ...opts, streams: ['in'] })
      const want = await readAll(() => c.read({ maxRecords: 100_000 }))
      c.close()
      for (const maxRecords of [1, 5, 1000]) {
        const label = `${JSON.stringify(opts)} maxRecords ${maxRecords}`
        const gc = new GroupCursor(reader, { ...opts, wants: (s) => s === 'in' })
        const groups = await readAll(() => gc.read({ maxRecords }))
        const filtered = groups.filter((g) => g.filtered)
        t.true(filtered.length > 0, label)
        // Filtered groups hold no `in` record; the others give the record cursor's `in` records.
        const got = flatten(groups.filter((g) => !g.filtered)).filter((r) => r.stream === 'in')
        t.deepEqual(got, want, label)
        // Every lsn from the start on is handed out exactly once, filtered or not (from a time,
        // groups received wholly before it are left out, as without `wants`).
        let next = groups[0]!.baseLsn + groups[0]!.first
        for (const g of groups) {
          if (!('fromTimeUs' in opts)) t.is(g.baseLsn + g.first, next, label)
          t.true(g.baseLsn + g.first >= next, label)
          next = g.baseLsn + g.count
        }
        t.is(next, end + 1, label)
        t.is(gc.nextLsn, end + 1, label)
        gc.close()
      }
    }
    await reader.close()
  })
}
