import {
  appendFileSync,
  chmodSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { MI_ERR_PLUGIN_CONFIG_INVALID, validateSubscriberConfig } from '@module-ingest/subscriber-sdk'
import { createTestHarness } from '@module-ingest/subscriber-sdk/testkit'
import test from 'ava'
import disk, { dirToStream, MI_ERR_DISK_ARCHIVE_CORRUPT, readArchive, streamToDir } from '../src/index.ts'
import { at, readAll, records, tempDir, text } from './_helpers.ts'

let n = 0
const harness = (dir: string, options: Record<string, unknown> = {}) =>
  createTestHarness(disk, { config: { dir, ...options }, name: `disk-${++n}` })

for (const compression of ['zstd', 'none'] as const) {
  test(`round trip, ${compression}: every field back, ordered by lsn across streams`, async (t) => {
    const dir = tempDir(t)
    const h = harness(dir, { compression })
    await h.init()
    const input = records(1, 500)
    await h.deliver(input.slice(0, 200))
    await h.deliver(input.slice(200))
    await h.close()
    const out = await readAll({ dir })
    t.is(out.length, 500)
    t.deepEqual(
      out.map((r) => r.lsn),
      input.map((r) => r.lsn),
    )
    const r7 = out[6]!
    t.deepEqual(
      { ...r7, body: text(r7) },
      {
        lsn: 7,
        stream: 'telemetry.temp',
        module: 'm1',
        core: '',
        seq: 70n,
        ts: at(0) + 7,
        rts: at(0) + 14,
        body: 'body-7',
      },
    )
    t.deepEqual(readdirSync(dir).sort(), ['telemetry.hum', 'telemetry.temp'])
    t.deepEqual(readdirSync(join(dir, 'telemetry.temp')), ['2026-11-22T09.mia'])
    t.like(h.metrics.counters, { records_written_total: 500 })
    const onlyHum = await readAll({ dir, stream: 'telemetry.hum', fromLsn: 100, toLsn: 110 })
    t.deepEqual(
      onlyHum.map((r) => r.lsn),
      [100, 102, 104, 106, 108, 110],
    )
  })
}

test('zstd shrinks repetitive telemetry', async (t) => {
  const sizes: Record<string, number> = {}
  for (const compression of ['zstd', 'none']) {
    const dir = tempDir(t)
    const h = harness(dir, { compression })
    await h.init()
    await h.deliver(records(1, 2000, () => ({ stream: 's', body: '{"value": 21.5, "unit": "C"}' })))
    await h.close()
    sizes[compression] = statSync(join(dir, 's', '2026-11-22T09.mia')).size
  }
  t.true(sizes.zstd! * 2 < sizes.none!, JSON.stringify(sizes))
})

test('rotation: one file per hour (or day) of rts; time filters', async (t) => {
  const dir = tempDir(t)
  const h = harness(dir)
  await h.init()
  // 09:10, 09:50, 10:05, 11:30 and, late (rts inversion), 10:59 again.
  const rts = [at(10), at(50), at(65), at(150), at(119)]
  await h.deliver(rts.slice(0, 3).map((r, i) => ({ lsn: i + 1, stream: 's', rts: r, body: `${i + 1}` })))
  await h.deliver(rts.slice(3).map((r, i) => ({ lsn: i + 4, stream: 's', rts: r, body: `${i + 4}` })))
  t.like(h.metrics.counters, { records_written_total: 5 })
  t.true((h.metrics.counters.fsyncs_total ?? 0) >= 2)
  await h.close()
  t.deepEqual(readdirSync(join(dir, 's')).sort(), [
    '2026-11-22T09.mia',
    '2026-11-22T10.mia',
    '2026-11-22T11.mia',
  ])
  t.deepEqual(
    (await readAll({ dir })).map((r) => r.lsn),
    [1, 2, 3, 5, 4],
    'files in time order, lsn order within each',
  )
  const tenOClock = await readAll({ dir, from: '2026-11-22T10:00:00Z', to: new Date('2026-11-22T11:00:00Z') })
  t.deepEqual(
    tenOClock.map((r) => r.lsn),
    [3, 5],
  )
  t.deepEqual(
    (await readAll({ dir, from: at(50), to: at(51) })).map((r) => r.lsn),
    [2],
  )

  const dayDir = tempDir(t)
  const d = harness(dayDir, { rotate: 'day' })
  await d.init()
  await d.deliver(rts.map((r, i) => ({ lsn: i + 1, stream: 's', rts: r })))
  await d.close()
  t.deepEqual(readdirSync(join(dayDir, 's')), ['2026-11-22.mia'])
})

test('torn tail: a half-written chunk is cut off on init, writing resumes after it', async (t) => {
  const dir = tempDir(t)
  const h = harness(dir)
  await h.init()
  await h.deliver(records(1, 100, () => ({ stream: 's' })))
  await h.deliver(records(101, 200, () => ({ stream: 's' })))
  await h.close()
  const file = join(dir, 's', '2026-11-22T09.mia')
  const whole = statSync(file).size
  truncateSync(file, whole - 10) // the second chunk lost its last 10 bytes
  // A reader stops quietly at the torn chunk (it may be a write in progress).
  t.deepEqual((await readAll({ dir })).at(-1)!.lsn, 100)

  const again = harness(dir)
  await again.init()
  t.true((again.metrics.counters.recovered_truncated_bytes_total ?? 0) > 0)
  t.like(again.logs[0], { level: 'warn', msg: 'DiskArchiveOpened' })
  t.true(statSync(file).size < whole - 10)
  // The host redelivers 101..200 (never acknowledged): written again, exactly once.
  await again.deliver(records(101, 250, () => ({ stream: 's' })))
  await again.close()
  const out = await readAll({ dir })
  t.deepEqual(
    out.map((r) => r.lsn),
    Array.from({ length: 250 }, (_, i) => i + 1),
  )
})

test('garbage after the last chunk (torn header) is cut off too', async (t) => {
  const dir = tempDir(t)
  const h = harness(dir, { compression: 'none' })
  await h.init()
  await h.deliver(records(1, 10, () => ({ stream: 's' })))
  await h.close()
  const file = join(dir, 's', '2026-11-22T09.mia')
  const size = statSync(file).size
  appendFileSync(file, Buffer.from('MIAC\x00\x01\x02'))
  const again = harness(dir)
  await again.init()
  t.is(statSync(file).size, size)
  await again.close()
})

test('restart with redelivery: records already archived are skipped, none duplicated', async (t) => {
  const dir = tempDir(t)
  const first = harness(dir)
  await first.init()
  await first.deliver(records(1, 100))
  // The process dies here: no close(). With fsync 'batch' the data is on disk regardless.
  const second = harness(dir)
  await second.init()
  await second.deliver(records(51, 150)) // the host redelivers from its last committed offset
  t.like(second.metrics.counters, { records_written_total: 50, duplicates_skipped_total: 50 })
  // A lost acknowledgement inside one run: the retry is absorbed as well.
  second.failNext()
  await second.deliver(records(151, 160), { maxAttempts: 2 })
  t.like(second.metrics.counters, { records_written_total: 60, duplicates_skipped_total: 60 })
  await second.close()
  await first.close()
  const lsns = (await readAll({ dir })).map((r) => r.lsn)
  t.deepEqual(
    lsns,
    Array.from({ length: 160 }, (_, i) => i + 1),
  )
})

test('stream names map to safe, reversible directory names', async (t) => {
  const names = ['a/b', '..', '.hidden', 'ünï', 'x%41', 'plain.name-1_2', '']
  for (const s of names) t.is(dirToStream(streamToDir(s)), s)
  t.is(streamToDir('a/b'), 'a%2Fb')
  t.is(streamToDir('..'), '%2E.')
  t.is(streamToDir(''), '%')
  t.is(new Set(names.map(streamToDir)).size, names.length)
  const dir = tempDir(t)
  const h = harness(dir)
  await h.init()
  await h.deliver([
    { stream: 'a/b', body: '1' },
    { stream: '..', body: '2' },
  ])
  await h.close()
  t.deepEqual(
    (await readAll({ dir })).map((r) => [r.stream, text(r)]),
    [
      ['a/b', '1'],
      ['..', '2'],
    ],
  )
})

test('damage before the tail is reported, not skipped', async (t) => {
  const dir = tempDir(t)
  const h = harness(dir, { compression: 'none' })
  await h.init()
  await h.deliver(records(1, 10, () => ({ stream: 's' })))
  await h.deliver(records(11, 20, () => ({ stream: 's' })))
  await h.close()
  const file = join(dir, 's', '2026-11-22T09.mia')
  const bytes = readFileSync(file)
  const i = bytes.indexOf('body-5')
  bytes[i] = 'X'.charCodeAt(0)
  writeFileSync(file, bytes)
  await t.throwsAsync(readAll({ dir }), { instanceOf: MI_ERR_DISK_ARCHIVE_CORRUPT, message: /CRC mismatch/ })
})

test('config: defaults, and errors name the option', async (t) => {
  t.deepEqual(await validateSubscriberConfig(disk, { dir: '/x' }), {
    dir: '/x',
    rotate: 'hour',
    compression: 'zstd',
    zstdLevel: 1,
    fsync: 'batch',
    maxOpenFiles: 256,
    fileMode: 0o600,
    dirMode: 0o700,
  })
  const err = await t.throwsAsync(validateSubscriberConfig(disk, { rotate: 'week' }), {
    instanceOf: MI_ERR_PLUGIN_CONFIG_INVALID,
  })
  t.regex(err!.message, /dir: .*; rotate: /)
})

test('reading a missing archive yields nothing', async (t) => {
  const dir = tempDir(t)
  t.deepEqual(await readAll({ dir: join(dir, 'nope') }), [])
  t.deepEqual(await readAll({ dir, stream: 'nope' }), [])
  const it = readArchive({ dir })
  t.true((await it.next()).done)
})

test('fsync rotate mode and many streams over maxOpenFiles still archive everything', async (t) => {
  const dir = tempDir(t)
  const h = harness(dir, { fsync: 'rotate', maxOpenFiles: 2 })
  await h.init()
  await h.deliver(records(1, 300, (lsn) => ({ stream: `s${lsn % 7}` })))
  await h.deliver(records(301, 600, (lsn) => ({ stream: `s${lsn % 7}` })))
  t.is(h.metrics.counters.fsyncs_total, undefined, 'no per-batch fsync')
  await h.close()
  t.is(readdirSync(dir).length, 7)
  t.is((await readAll({ dir })).length, 600)
})

test('archive files are 0600 and directories 0700 by default (also an existing 0755 root); configurable', async (t) => {
  const modes = (root: string) =>
    [root, ...readdirSync(root, { recursive: true }).map((p) => join(root, String(p)))].map((p) => {
      const st = statSync(p)
      return { p, dir: st.isDirectory(), mode: st.mode & 0o777 }
    })
  for (const [opts, file, dirMode] of [
    [{}, 0o600, 0o700],
    [{ fileMode: 0o640, dirMode: 0o750 }, 0o640, 0o750],
  ] as const) {
    const dir = tempDir(t)
    chmodSync(dir, 0o755)
    const h = harness(dir, opts)
    await h.init()
    await h.deliver(records(1, 50))
    await h.close()
    const seen = modes(dir)
    t.true(seen.filter((e) => !e.dir).length >= 2, 'archive files written')
    for (const e of seen) t.is(e.mode.toString(8), (e.dir ? dirMode : file).toString(8), e.p)
  }
})
