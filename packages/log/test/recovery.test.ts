import fs from 'node:fs'
import path from 'node:path'
import test from 'ava'
import {
  crash,
  type LogGap,
  listSegments,
  meta,
  openLog,
  openReader,
  readSegment,
  type StoredRecord,
  scanSegment,
} from '../src/internal.ts'
import { body, nowUs, tmpDir } from './helpers.ts'

type AnyLog = Awaited<ReturnType<typeof openLog>>

async function fill(log: AnyLog, n: number, module = 'm', size = 200, every = 50): Promise<void> {
  for (let i = 0; i < n; i++) {
    const seq = log.moduleHwm(module) + 1n
    log.append({
      module,
      core: '',
      seq,
      rts: nowUs(),
      records: [{ stream: 's', ts: nowUs(), body: body(size, i) }],
    })
    if (i % every === every - 1) await log.sync()
  }
  await log.sync()
}

async function readAll(dir: string, from = 1): Promise<StoredRecord[]> {
  const r = await openReader(dir)
  const c = r.cursor({ fromLsn: from })
  const out: StoredRecord[] = []
  try {
    for (;;) {
      const got = await c.read({ maxRecords: 1000 })
      if (got.length === 0) return out
      out.push(...got)
    }
  } finally {
    await r.close()
  }
}

const small = { segmentSizeBytes: 16 * 1024, indexIntervalBytes: 1024 }

function lastSeg(dir: string): string {
  return path.join(
    dir,
    fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.seg'))
      .sort()
      .at(-1)!,
  )
}

test('torn tail: a record cut mid-way is truncated, everything before it stays', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir, small)
  await fill(log, 30, 'm', 200, 1)
  crash(log)
  const seg = lastSeg(dir)
  const size = fs.statSync(seg).size
  fs.truncateSync(seg, size - 7)
  // Cut inside the last group, which the watermark calls durable: that is damage, not a tear.
  await t.throwsAsync(openLog(dir, small), {
    code: 'MI_ERR_LOG_CORRUPT',
    message: /before the durable end .*recover-dump repair/,
  })
  // A real torn tail: the last group was written but its fdatasync never returned.
  const base = Number(path.basename(seg, '.seg'))
  let lastGroup = 0
  for await (const g of readSegment(dir, base)) lastGroup = g.offset
  fs.writeFileSync(
    path.join(dir, 'durable'),
    meta.encodeWatermark({ durableLsn: 29, segBase: base, endOffset: lastGroup, epoch: 0 }),
  )
  const log2 = await openLog(dir, small)
  const rep = log2.stats().recovery
  t.truthy(rep.truncated, 'recovery reports the truncation')
  t.is(log2.durableLsn, 29)
  t.is(log2.moduleHwm('m'), 29n)
  await fill(log2, 5)
  await log2.close()
  const recs = await readAll(dir)
  t.deepEqual(
    recs.map((r) => r.lsn),
    Array.from({ length: 34 }, (_, i) => i + 1),
  )
})

test('torn tail: garbage and zeros appended after the last record are dropped', async (t) => {
  for (const junk of [Buffer.from('garbage-garbage-garbage'), Buffer.alloc(4096)]) {
    const dir = tmpDir(t)
    const log = await openLog(dir, small)
    await fill(log, 10)
    crash(log)
    fs.appendFileSync(lastSeg(dir), junk)
    const log2 = await openLog(dir, small)
    t.is(log2.durableLsn, 10)
    t.is(log2.stats().recovery.truncated?.droppedBytes, junk.length)
    await log2.close()
    t.is((await readAll(dir)).length, 10)
  }
})

test('a flipped byte inside a sealed segment is reported with segment and offset, never served', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir, small)
  await fill(log, 300)
  await log.close()
  const segs = await listSegments(dir)
  t.true(segs.length >= 3)
  const victim = segs[1]!
  const fd = fs.openSync(victim.path, 'r+')
  const at = 16 + 8 + 40 // inside the first group's payload
  const b = Buffer.alloc(1)
  fs.readSync(fd, b, 0, 1, at)
  b[0]! ^= 0xff
  fs.writeSync(fd, b, 0, 1, at)
  fs.closeSync(fd)

  const scan = await scanSegment(dir, victim.base)
  t.deepEqual(scan.corruption, { segment: victim.name, offset: 16, reason: 'crc mismatch' })

  const gaps: LogGap[] = []
  const reader = await openReader(dir, { onGap: (g) => gaps.push(g) })
  const c = reader.cursor()
  const got: StoredRecord[] = []
  for (;;) {
    const r = await c.read({ maxRecords: 100 })
    if (r.length === 0) break
    for (const x of r) got.push(x)
  }
  t.is(gaps.length, 1)
  t.like(gaps[0], { segment: victim.name, offset: 16, fromLsn: victim.base, reason: 'crc mismatch' })
  // A cursor's gap always knows its end (toLsn, records); only a segment scan's may not.
  t.is(got.length + gaps[0]!.records!, 300, 'every other record is served, the lost ones are accounted')
  t.false(
    got.some((r) => r.lsn >= gaps[0]!.fromLsn && r.lsn <= gaps[0]!.toLsn!),
    'nothing from the bad group',
  )
  // A cursor may start past the corrupt segment.
  const after = await reader.cursor({ fromLsn: segs[2]!.base }).read({ maxRecords: 5 })
  t.is(after[0]!.lsn, segs[2]!.base)
  await reader.close()

  // Recovery from a full scan (no checkpoint) reports it, and never quarantines CRC-valid data.
  for (const f of ['checkpoint.0', 'checkpoint.1']) fs.rmSync(path.join(dir, f), { force: true })
  const log2 = await openLog(dir, small)
  t.deepEqual(log2.stats().recovery.corruptions, [
    { segment: victim.name, offset: 16, reason: 'crc mismatch' },
  ])
  t.is(log2.durableLsn, 300, 'data after the corrupt segment is kept')
  await log2.close()
  t.false(fs.existsSync(path.join(dir, 'quarantine.json')))
})

test('a missing index file is rebuilt (by readers in memory, by the writer on disk)', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir, small)
  await fill(log, 300)
  await log.close()
  const segs = await listSegments(dir)
  const victim = segs[2]!
  const idx = victim.path.replace(/\.seg$/, '.idx')
  fs.rmSync(idx)
  t.is((await listSegments(dir))[2]!.index, 'missing')
  const mid = victim.base + 3
  const recs = await readAll(dir, mid)
  t.is(recs[0]!.lsn, mid)
  t.is(recs.length, 300 - mid + 1)
  const log2 = await openLog(dir, small)
  // background rebuild
  for (let i = 0; i < 100 && !fs.existsSync(idx); i++) await new Promise((r) => setTimeout(r, 10))
  t.is((await listSegments(dir))[2]!.index, 'sealed')
  await log2.close()
})

test('missing or stale checkpoint: recovery scans further and still rebuilds HWMs', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir, { ...small, checkpointIntervalBytes: 1 << 30 })
  await fill(log, 100, 'a')
  await fill(log, 100, 'b')
  const stale = fs.readFileSync(path.join(dir, 'checkpoint.0'))
  await fill(log, 100, 'a')
  crash(log)
  // stale: an old checkpoint in both slots
  fs.writeFileSync(path.join(dir, 'checkpoint.0'), stale)
  fs.writeFileSync(path.join(dir, 'checkpoint.1'), stale)
  let log2 = await openLog(dir, small)
  t.is(log2.durableLsn, 300)
  t.is(log2.moduleHwm('a'), 200n)
  t.is(log2.moduleHwm('b'), 100n)
  crash(log2)
  // missing
  fs.rmSync(path.join(dir, 'checkpoint.0'))
  fs.rmSync(path.join(dir, 'checkpoint.1'))
  log2 = await openLog(dir, small)
  t.is(log2.stats().recovery.checkpoint, 'missing')
  t.is(log2.durableLsn, 300)
  t.is(log2.moduleHwm('a'), 200n)
  // corrupt slot is ignored
  crash(log2)
  fs.writeFileSync(path.join(dir, 'checkpoint.0'), '{"crc":1,"body":"{}"}')
  fs.writeFileSync(path.join(dir, 'checkpoint.1'), 'nonsense')
  log2 = await openLog(dir, small)
  t.is(log2.moduleHwm('b'), 100n)
  await log2.close()
})

test('a second writer on the same directory is refused', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir)
  const err = await t.throwsAsync(openLog(dir))
  t.is((err as { code?: string }).code, 'MI_ERR_LOG_LOCKED')
  await log.close()
  await (await openLog(dir)).close()
})

test('a torn catalog entry is dropped; names appended later get fresh ids', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir)
  await fill(log, 3)
  crash(log)
  fs.appendFileSync(path.join(dir, 'catalog'), Buffer.from([1, 2, 3, 4, 9]))
  const log2 = await openLog(dir)
  log2.append({
    module: 'new-module',
    core: 'k',
    seq: 1n,
    rts: nowUs(),
    records: [{ stream: 'new.stream', ts: 1, body: body(3, 3) }],
  })
  await log2.close()
  const recs = await readAll(dir)
  t.like(recs.at(-1), { lsn: 4, module: 'new-module', core: 'k', stream: 'new.stream' })
})

test('groups bigger than the 1 MiB scan chunk survive recovery (regression)', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir, { groupCommitMaxBytes: 8 * 1024 * 1024 })
  const big = body(3 * 1024 * 1024, 5)
  log.append({
    module: 'm',
    core: '',
    seq: 1n,
    rts: nowUs(),
    records: [
      { stream: 's', ts: 1, body: big },
      { stream: 's', ts: 2, body: big },
    ],
  })
  await log.sync()
  crash(log)
  const log2 = await openLog(dir)
  t.is(log2.durableLsn, 2)
  t.is(log2.stats().recovery.truncated, undefined)
  await log2.close()
  const recs = await readAll(dir)
  t.is(recs.length, 2)
  t.deepEqual(recs[1]!.body, big)
})
