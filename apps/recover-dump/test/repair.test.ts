import fs from 'node:fs'
import path from 'node:path'
import { listSegments, openLog, readSegment } from '@module-ingest/log'
import test from 'ava'
import {
  buildLog,
  cli,
  flipSealedByte,
  kBaseRtsUs,
  lines,
  segFiles,
  small,
  tmpDir,
  writeRecords,
} from './helpers.ts'

test('repair on a healthy log: nothing to do', async (t) => {
  const dir = tmpDir(t)
  await buildLog(dir, 30)
  const r = await cli('repair', '-l', dir)
  t.is(r.code, 0, r.stderr)
  t.is(r.stdout.trim(), 'nothing to repair')
})

test('repair: torn tail — dry run changes nothing, --yes truncates, the log opens and goes on', async (t) => {
  const dir = tmpDir(t)
  await buildLog(dir, 100)
  const last = segFiles(dir).at(-1)!
  const file = path.join(dir, last)
  const size = fs.statSync(file).size
  fs.appendFileSync(file, Buffer.from('\x01garbage appended by a dying writer'))

  const dry = await cli('repair', '--log-dir', dir)
  t.is(dry.code, 0, dry.stderr)
  t.true(dry.stdout.includes(`truncate segment ${last} at offset ${size}`), dry.stdout)
  t.is(lines(dry.stdout).at(-1), 'dry run; re-run with --yes to apply')
  t.is(fs.statSync(file).size, size + 35, 'dry run leaves the file alone')

  const wet = await cli('repair', '--log-dir', dir, '--yes')
  t.is(wet.code, 0, wet.stderr)
  t.regex(wet.stdout, /applied 1 action$/m)
  t.is(fs.statSync(file).size, size)
  t.is((await cli('verify', '-l', dir)).code, 0)

  const log = await openLog(dir, small)
  t.is(log.durableLsn, 100)
  await writeRecords(log, 100, 5, kBaseRtsUs)
  t.is(log.durableLsn, 105)
  await log.close()
  t.is(lines((await cli('dump', '-l', dir)).stdout).length, 105)
})

test('repair: a missing sealed index is rebuilt', async (t) => {
  const dir = tmpDir(t)
  await buildLog(dir, 100)
  const idx = path.join(dir, segFiles(dir)[0]!.replace('.seg', '.idx'))
  fs.rmSync(idx)
  const v = JSON.parse((await cli('verify', '-l', dir, '--json')).stdout)
  t.true(v.ok, 'a missing index is not damage')
  t.deepEqual(v.warnings, [`${path.basename(idx, '.idx')}.seg: sealed index missing`])

  const dry = await cli('repair', '-l', dir)
  t.true(dry.stdout.includes(`rebuild the missing index of segment ${segFiles(dir)[0]}`), dry.stdout)
  t.false(fs.existsSync(idx))
  const wet = await cli('repair', '-l', dir, '--yes', '--json')
  t.is(wet.code, 0, wet.stderr)
  t.like(JSON.parse(wet.stdout), { dryRun: false, applied: [{ kind: 'rebuild-index', base: 1 }] })
  t.true(fs.existsSync(idx))
  t.is((await listSegments(dir))[0]!.index, 'sealed')
  t.is(lines((await cli('dump', '-l', dir)).stdout).length, 100)
})

test('damage in a sealed segment: verify, dump, export and repair agree; restoring the file restores the data', async (t) => {
  const dir = tmpDir(t)
  await buildLog(dir, 100)
  const file = path.join(dir, segFiles(dir)[0]!)
  const original = fs.readFileSync(file)
  const bad = await flipSealedByte(dir) // the second group: lsns 11..20
  const all = Array.from({ length: 100 }, (_, i) => i + 1)
  const readable = all.filter((l) => l < 11 || l > 20)

  // Before repair: verify fails; dump and export serve every readable record, list the gap, exit 3.
  const v0 = await cli('verify', '-l', dir, '--json')
  t.is(v0.code, 3)
  t.like(JSON.parse(v0.stdout).findings, [{ kind: 'corrupt', ...bad, fromLsn: 11, toLsn: 20 }])
  const d0 = await cli('dump', '-l', dir)
  t.is(d0.code, 3, 'dump agrees with verify')
  t.deepEqual(
    lines(d0.stdout).map((l) => JSON.parse(l).lsn),
    readable,
    'never stops at the damage',
  )
  t.regex(
    d0.stderr,
    new RegExp(
      `error: MI_ERR_LOG_CORRUPT: skipped lsns 11..20 \\(10 records\\): segment ${bad.segment} offset ${bad.offset}`,
    ),
  )
  const out = path.join(dir, '..', `${path.basename(dir)}.ndjson`)
  t.teardown(() => fs.rmSync(out, { force: true }))
  const e0 = await cli('export', '-l', dir, '-o', out)
  t.is(e0.code, 3)
  t.regex(e0.stdout, /exported 90 records .*skipped 10 unreadable records in 1 damaged range/)
  t.is(lines(fs.readFileSync(out, 'utf8')).length, 90)
  const five = await cli('dump', '-l', dir, '--limit', '5')
  t.is(five.code, 0, 'the limit was reached before the damage')

  // repair records the loss; verify then notes it (fails only --strict) and dump agrees (exit 0).
  const dry = await cli('repair', '-l', dir)
  t.true(dry.stdout.includes(`quarantine segment ${bad.segment} at offset ${bad.offset}`), dry.stdout)
  t.false(fs.existsSync(path.join(dir, 'quarantine.json')))
  t.is((await cli('repair', '-l', dir, '--yes')).code, 0)
  const q = JSON.parse(fs.readFileSync(path.join(dir, 'quarantine.json'), 'utf8'))
  t.like(q, [{ segment: bad.segment, offset: bad.offset, fromLsn: 11, toLsn: 20 }])
  const v = await cli('verify', '-l', dir)
  t.is(v.code, 0, v.stdout)
  t.true(v.stdout.includes(`quarantined: segment ${bad.segment} offset ${bad.offset}`), v.stdout)
  t.is((await cli('verify', '-l', dir, '--strict')).code, 3)
  t.is((await cli('repair', '-l', dir)).stdout.trim(), 'nothing to repair')
  const d = await cli('dump', '-l', dir)
  t.is(d.code, 0, 'dump agrees with verify')
  t.deepEqual(
    lines(d.stdout).map((l) => JSON.parse(l).lsn),
    readable,
  )
  t.regex(d.stderr, /note: skipped lsns 11..20 .*known loss/)

  // The segment comes back from a backup: every record is served again; repair drops the entry.
  fs.writeFileSync(file, original)
  t.deepEqual(
    lines((await cli('dump', '-l', dir)).stdout).map((l) => JSON.parse(l).lsn),
    all,
  )
  const v2 = await cli('verify', '-l', dir)
  t.is(v2.code, 0)
  t.true(v2.stdout.includes(`restored: segment ${bad.segment} offset ${bad.offset}`), v2.stdout)
  t.is((await cli('repair', '-l', dir, '--yes')).code, 0)
  t.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'quarantine.json'), 'utf8')), [])
  t.is((await cli('verify', '-l', dir, '--strict')).code, 0)
})

test('repair refuses while a writer holds the log (exit 4), dry run included', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir, small)
  t.teardown(() => log.close())
  await writeRecords(log, 0, 20, kBaseRtsUs)
  for (const extra of [[], ['--yes']]) {
    const r = await cli('repair', '-l', dir, ...extra)
    t.is(r.code, 4)
    t.true(r.stderr.includes(`live writer (pid ${process.pid})`), r.stderr)
  }
  // verify beside a live writer reports no damage for the tail it is writing.
  t.is((await cli('verify', '-l', dir)).code, 0)
})

test('repair: damage in the middle of the last segment seals it there; verify, dump and repair agree', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir) // one segment: ten synced groups of ten records
  await writeRecords(log, 0, 100, kBaseRtsUs)
  await log.close()
  const last = segFiles(dir).at(-1)!
  const file = path.join(dir, last)
  const size = fs.statSync(file).size
  let third = 0
  let n = 0
  for await (const g of readSegment(dir, 1)) if (n++ === 2) third = g.offset // lsns 21..30
  const fd = fs.openSync(file, 'r+')
  const b = Buffer.alloc(1)
  fs.readSync(fd, b, 0, 1, third + 20)
  b[0]! ^= 0x40
  fs.writeSync(fd, b, 0, 1, third + 20)
  fs.closeSync(fd)
  const readable = Array.from({ length: 100 }, (_, i) => i + 1).filter((l) => l < 21 || l > 30)

  const v0 = await cli('verify', '-l', dir, '--json')
  t.is(v0.code, 3)
  t.like(JSON.parse(v0.stdout).findings, [
    { kind: 'corrupt', segment: last, offset: third, fromLsn: 21, toLsn: 30 },
  ])
  const d0 = await cli('dump', '-l', dir)
  t.is(d0.code, 3, 'dump agrees with verify')
  t.deepEqual(
    lines(d0.stdout).map((l) => JSON.parse(l).lsn),
    readable,
  )
  const dry = await cli('repair', '-l', dir)
  t.true(
    dry.stdout.includes(
      `seal segment ${last} at its damage (offset ${third}): keeps the intact lsns 31..100`,
    ),
    dry.stdout,
  )
  t.false(dry.stdout.includes('truncate'), dry.stdout)
  t.is((await cli('repair', '-l', dir, '--yes')).code, 0)
  t.is(fs.statSync(file).size, size, 'nothing was cut')
  t.deepEqual(segFiles(dir), [last, '00000000000000000101.seg'])

  const v = await cli('verify', '-l', dir, '--json')
  t.is(v.code, 0, v.stdout)
  t.like(JSON.parse(v.stdout).findings, [
    { kind: 'quarantined', segment: last, offset: third, fromLsn: 21, toLsn: 30 },
  ])
  t.is((await cli('repair', '-l', dir)).stdout.trim(), 'nothing to repair')
  const d = await cli('dump', '-l', dir)
  t.is(d.code, 0, 'dump agrees with verify')
  t.deepEqual(
    lines(d.stdout).map((l) => JSON.parse(l).lsn),
    readable,
  )
  // A server starts on it and goes on after the kept records.
  const log2 = await openLog(dir)
  t.is(log2.durableLsn, 100)
  await writeRecords(log2, 100, 5, kBaseRtsUs)
  await log2.close()
  t.is(lines((await cli('dump', '-l', dir)).stdout).length, 95)
})
