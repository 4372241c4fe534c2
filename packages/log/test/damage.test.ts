// Damage in durable data: what readers, recovery and the raw repair tools do about it.
import fs from 'node:fs'
import path from 'node:path'
import test from 'ava'
import {
  acquireRepairLock,
  crash,
  type DamageReport,
  type Log,
  type LogGap,
  openLog,
  openReader,
  readSegment,
  scanSegment,
  truncateSegmentTail,
} from '../src/internal.ts'
import { body, nowUs, tmpDir } from './helpers.ts'

/** `n` single-record appends, a group commit (sync) every `every`. */
async function fill(log: Log, n: number, every = 10): Promise<void> {
  for (let i = 0; i < n; i++) {
    log.append({
      module: 'm',
      core: '',
      seq: log.moduleHwm('m') + 1n,
      rts: nowUs(),
      records: [{ stream: 's', ts: nowUs(), body: body(100, i) }],
    })
    if (i % every === every - 1) await log.sync()
  }
  await log.sync()
}

async function groups(dir: string, base = 1): Promise<{ offset: number; lsns: number[] }[]> {
  const out: { offset: number; lsns: number[] }[] = []
  for await (const g of readSegment(dir, base))
    out.push({ offset: g.offset, lsns: g.records.map((r) => r.lsn) })
  return out
}

function flipByte(file: string, at: number): void {
  const fd = fs.openSync(file, 'r+')
  const b = Buffer.alloc(1)
  fs.readSync(fd, b, 0, 1, at)
  b[0]! ^= 0x40
  fs.writeSync(fd, b, 0, 1, at)
  fs.closeSync(fd)
}

const seg1 = '00000000000000000001.seg'

async function readWithGaps(
  dir: string,
  maxRecords = 1000,
): Promise<{ lsns: number[]; gaps: LogGap[]; skipped: number; nextLsn: number }> {
  const gaps: LogGap[] = []
  const reader = await openReader(dir, { onGap: (g) => gaps.push(g) })
  const c = reader.cursor()
  const lsns: number[] = []
  for (;;) {
    const r = await c.read({ maxRecords })
    if (r.length === 0) break
    for (const x of r) lsns.push(x.lsn)
  }
  const res = { lsns, gaps, skipped: c.skippedRecords, nextLsn: c.nextLsn }
  await reader.close()
  return res
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i)

test('reader: a bad group is skipped with an accounted gap; every intact record before and after it is served', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir)
  await fill(log, 100) // one segment, ten groups of ten, all in the reader's first 256 KiB chunk
  await log.close()
  const gs = await groups(dir)
  t.is(gs.length, 10)
  const bad = gs[6]!
  flipByte(path.join(dir, seg1), bad.offset + 20)

  for (const maxRecords of [1000, 7]) {
    const r = await readWithGaps(dir, maxRecords)
    t.deepEqual(r.lsns, [...range(1, 60), ...range(71, 100)], `maxRecords ${maxRecords}`)
    t.deepEqual(r.gaps, [
      {
        segment: seg1,
        offset: bad.offset,
        resumeOffset: gs[7]!.offset,
        fromLsn: 61,
        toLsn: 70,
        records: 10,
        reason: 'crc mismatch',
      },
    ])
    t.is(r.skipped, 10)
    t.is(r.nextLsn, 101, 'the cursor never stops')
  }
})

test('reader: a damaged length prefix and damage at the end of a sealed segment are skipped too', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir, { segmentSizeBytes: 8192 })
  await fill(log, 100)
  await log.close()
  const gs = await groups(dir)
  t.true(gs.length >= 5)
  // 1. the length of the 3rd group: found again by scanning byte by byte for the next intact group
  flipByte(path.join(dir, seg1), gs[2]!.offset + 3)
  // 2. the last group of the first segment: nothing intact follows in it; the gap ends where the next segment starts
  flipByte(path.join(dir, seg1), gs.at(-1)!.offset + 20)
  const r = await readWithGaps(dir)
  const lastFirst = gs.at(-1)!.lsns
  t.deepEqual(
    r.gaps.map((g) => [g.fromLsn, g.toLsn]),
    [
      [gs[2]!.lsns[0]!, gs[2]!.lsns.at(-1)!],
      [lastFirst[0]!, lastFirst.at(-1)!],
    ],
  )
  const lost = new Set([...gs[2]!.lsns, ...lastFirst])
  t.deepEqual(
    r.lsns,
    range(1, 100).filter((l) => !lost.has(l)),
  )
})

test('reader: a quarantine.json entry never hides an intact group (restoring a file restores the data)', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir)
  await fill(log, 50)
  await log.close()
  const gs = await groups(dir)
  fs.writeFileSync(
    path.join(dir, 'quarantine.json'),
    JSON.stringify([{ segment: seg1, offset: gs[3]!.offset, reason: 'test', detectedAtMs: 0 }]),
  )
  const r = await readWithGaps(dir)
  t.deepEqual(r.lsns, range(1, 50))
  t.deepEqual(r.gaps, [])
})

test('truncateSegmentTail before the durable end: watermark, checkpoints and groups follow the cut; readers see no error', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir)
  await fill(log, 100)
  await log.close()
  const gs = await groups(dir)
  const file = path.join(dir, seg1)
  const size = fs.statSync(file).size
  flipByte(file, gs[6]!.offset + 20)
  {
    const r = await openReader(dir)
    await r.groups.commit('ahead', 91) // consumed past the damage
    await r.groups.commit('behind', 31)
    await r.close()
  }

  const scan = await scanSegment(dir, 1)
  t.is(scan.corruption?.offset, gs[6]!.offset)
  await t.throwsAsync(
    truncateSegmentTail(dir, 1, gs[6]!.offset + 1),
    { instanceOf: RangeError },
    'not a group end',
  )
  const lock = await acquireRepairLock(dir)
  const res = await truncateSegmentTail(dir, 1, scan.validBytes)
  await lock.release()
  t.deepEqual(res, {
    segment: seg1,
    offset: gs[6]!.offset,
    droppedBytes: size - gs[6]!.offset,
    durableCut: { fromLsn: 61, savedTo: `${seg1}.cut-${gs[6]!.offset}`, groupsMovedBack: ['ahead'] },
  })
  t.is(
    fs.statSync(path.join(dir, res.durableCut!.savedTo)).size,
    size - gs[6]!.offset,
    'cut bytes kept aside',
  )

  // A reader right after the repair, before any server ran recovery: no "short prefix", no error.
  const reader = await openReader(dir)
  t.like(reader.watermark(), { durableLsn: 60, segBase: 1, endOffset: gs[6]!.offset })
  t.deepEqual(
    (await reader.cursor().read()).map((r) => r.lsn),
    Array.from({ length: 60 }, (_, i) => i + 1),
  )
  const c = reader.cursor({ fromLsn: reader.groups.get('ahead') })
  t.deepEqual(await c.read(), [])
  t.false(await c.waitForData({ timeoutMs: 100 }), 'caught up: nothing to spin on')
  t.is(reader.groups.get('behind'), 31)

  // The checkpoint written at close pointed past the cut and is gone; the server's recovery
  // rebuilds HWMs from what is left and goes on at lsn 61, which the moved-back group then reads.
  const log2 = await openLog(dir)
  t.is(log2.durableLsn, 60)
  t.is(log2.moduleHwm('m'), 60n)
  t.is(log2.stats().recovery.truncated, undefined)
  await fill(log2, 5)
  t.true(await c.waitForData({ timeoutMs: 5000 }))
  t.deepEqual(
    (await c.read()).map((r) => r.lsn),
    [61, 62, 63, 64, 65],
  )
  await log2.close()
  await reader.close()
})

test('recovery: damage in the middle of the active segment seals it there; nothing intact is cut', async (t) => {
  // Each way of damaging group 3 of 10 (lsns 21..30): the intact groups after it stay readable.
  for (const [what, damage] of [
    ['a flipped payload byte (the watermark says durable)', (f: string, at: number) => flipByte(f, at + 20)],
    [
      'a flipped byte, watermark lost in a power cut',
      (f: string, at: number, dir: string) => {
        flipByte(f, at + 20)
        fs.rmSync(path.join(dir, 'durable'))
      },
    ],
    ['a damaged length prefix (+1 GiB)', (f: string, at: number) => flipByte(f, at + 3)],
  ] as const) {
    const dir = tmpDir(t)
    const log = await openLog(dir)
    await fill(log, 100) // ten synced groups in the active segment
    crash(log) // no checkpoint past the damage: recovery scans from the segment start
    const gs = await groups(dir)
    const file = path.join(dir, seg1)
    const size = fs.statSync(file).size
    const bad = gs[2]!
    damage(file, bad.offset, dir)
    const found: DamageReport[] = []
    const log2 = await openLog(dir, { onDamage: (d) => found.push(d) })
    t.is(fs.statSync(file).size, size, `${what}: nothing was truncated`)
    t.like(log2.stats().recovery.sealed, {
      segment: seg1,
      offset: bad.offset,
      nextBase: 101,
      fromLsn: 31,
      toLsn: 100,
    })
    t.like(found, [{ segment: seg1, offset: bad.offset, foundBy: 'recovery' }])
    t.is(log2.durableLsn, 100, what)
    t.is(log2.moduleHwm('m'), 100n, `${what}: the HWM counts the groups after the damage`)
    await fill(log2, 5)
    await log2.close()
    const r = await readWithGaps(dir)
    t.deepEqual(r.lsns, [...range(1, 20), ...range(31, 105)], `${what}: every intact record is served`)
    t.is(r.skipped, 10)
  }
})

test('recovery: a torn tail (nothing intact after the bad group, past the durable end) is still truncated', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir)
  await fill(log, 30)
  crash(log)
  const file = path.join(dir, seg1)
  const size = fs.statSync(file).size
  // A group written but never synced: its head made it to disk, the rest did not.
  const head = Buffer.alloc(8 + 200)
  head.writeUInt32LE(400, 0)
  head[8] = 0xa0
  fs.appendFileSync(file, head)
  const log2 = await openLog(dir)
  t.like(log2.stats().recovery.truncated, { segment: seg1, offset: size, droppedBytes: head.length })
  t.is(log2.durableLsn, 30)
  await log2.close()
})

test('a flipped byte in a sealed segment is found by the background check: onDamage + stats().damage', async (t) => {
  const dir = tmpDir(t)
  const damage: DamageReport[] = []
  const log = await openLog(dir, {
    segmentSizeBytes: 4096,
    verifyIntervalMs: 10,
    onDamage: (d) => damage.push(d),
  })
  await fill(log, 100)
  const gs = await groups(dir)
  flipByte(path.join(dir, seg1), gs[1]!.offset + 20) // sealed: the writer has rolled past it
  for (let i = 0; i < 500 && damage.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
  t.deepEqual(damage, [
    {
      segment: seg1,
      offset: gs[1]!.offset,
      reason: 'crc mismatch',
      foundBy: 'background',
      fromLsn: gs[1]!.lsns[0]!,
      toLsn: gs[1]!.lsns.at(-1)!,
    },
  ])
  await new Promise((r) => setTimeout(r, 100)) // more passes: reported once
  t.like(log.stats().damage, { damagedRanges: 1, last: { segment: seg1, offset: gs[1]!.offset } })
  t.true(log.stats().damage.segmentsChecked >= 1)
  await log.close()
})
