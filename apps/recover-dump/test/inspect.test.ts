import path from 'node:path'
import { openReader } from '@module-ingest/log'
import test from 'ava'
import { buildLog, cli, sample, segFiles, tmpDir } from './helpers.ts'

test('inspect --json on a healthy log: segments, streams, modules, groups, watermark', async (t) => {
  const data = tmpDir(t)
  const dir = path.join(data, 'log')
  await buildLog(dir, 100)
  const reader = await openReader(dir)
  await reader.groups.commit('archive', 41)
  await reader.close()

  const r = await cli('inspect', '--data-dir', data, '--json')
  t.is(r.code, 0, r.stderr)
  const rep = JSON.parse(r.stdout)
  const files = segFiles(dir)
  t.true(files.length >= 3, 'the test log spans several segments')
  t.is(rep.segments.length, files.length)
  t.deepEqual(
    rep.segments.map((s: { segment: string }) => s.segment),
    files,
  )
  t.is(rep.totals.records, 100)
  t.is(rep.totals.firstLsn, 1)
  t.is(rep.totals.lastLsn, 100)
  t.is(rep.durable.lsn, 100)
  t.deepEqual(rep.writer, { pid: null, live: false })
  // Segments tile the lsn space; all but the last are sealed with a sealed index.
  let next = 1
  for (const [i, s] of rep.segments.entries()) {
    t.is(s.baseLsn, next)
    t.is(s.records, s.lastLsn - s.baseLsn + 1)
    t.true(s.firstRtsUs <= s.lastRtsUs)
    t.is(s.state, i === rep.segments.length - 1 ? 'active' : 'sealed')
    if (s.state === 'sealed') t.is(s.index, 'sealed')
    t.is(s.damage, undefined)
    next = s.lastLsn + 1
  }
  const expectStreams = new Map<string, number>()
  const expectModules = new Map<string, number>()
  for (let i = 0; i < 100; i++) {
    const s = sample(i)
    expectStreams.set(s.stream, (expectStreams.get(s.stream) ?? 0) + 1)
    expectModules.set(s.module, (expectModules.get(s.module) ?? 0) + 1)
  }
  t.deepEqual(
    Object.fromEntries(rep.streams.map((c: { name: string; records: number }) => [c.name, c.records])),
    Object.fromEntries(expectStreams),
  )
  t.deepEqual(
    Object.fromEntries(rep.modules.map((c: { name: string; records: number }) => [c.name, c.records])),
    Object.fromEntries(expectModules),
  )
  t.deepEqual(rep.groups, [{ name: 'archive', nextLsn: 41, lag: 60 }])
  t.deepEqual(rep.quarantine, [])
})

test('inspect prints tables for people; --quick skips the record scan', async (t) => {
  const dir = tmpDir(t)
  await buildLog(dir, 60)
  const r = await cli('inspect', '--log-dir', dir)
  t.is(r.code, 0, r.stderr)
  for (const heading of ['SEGMENTS', 'STREAMS', 'MODULES', 'CONSUMER GROUPS'])
    t.true(r.stdout.includes(heading), heading)
  t.regex(r.stdout, /durable\s+lsn 60/)
  t.regex(r.stdout, /sensors\/temp\s+20/)
  t.regex(r.stdout, /2026-01-01T00:00:00\.000Z/, 'receive-time range in ISO')

  const q = JSON.parse((await cli('inspect', '--log-dir', dir, '--json', '--quick')).stdout)
  t.is(q.totals.records, 60)
  t.is(q.streams, undefined)
})
