import { openLog } from '@module-ingest/log'
import test from 'ava'
import { buildLog, cli, kBaseRtsUs, lines, sample, small, tmpDir, writeRecords } from './helpers.ts'

interface Line {
  lsn: number
  stream: string
  module: string
  core: string
  seq: string
  ts: number
  rts: number
  bodyEncoding: string
  body: string
}

async function dump(...args: string[]): Promise<Line[]> {
  const r = await cli('dump', ...args)
  if (r.code !== 0) throw new Error(`dump exited ${r.code}: ${r.stderr}`)
  return lines(r.stdout).map((l) => JSON.parse(l) as Line)
}

test('dump: every record, in lsn order, with all fields', async (t) => {
  const dir = tmpDir(t)
  await buildLog(dir, 100)
  const all = await dump('--log-dir', dir)
  t.deepEqual(
    all.map((r) => r.lsn),
    Array.from({ length: 100 }, (_, i) => i + 1),
  )
  const r5 = all[5]!
  t.like(r5, { stream: sample(5).stream, module: sample(5).module, core: 'core-a', seq: '3' })
  t.is(r5.rts, kBaseRtsUs + 5 * 1_000_000)
  t.is(r5.ts, r5.rts - 5)
})

test('dump filters: stream globs, module, from/to by lsn and time, limit', async (t) => {
  const dir = tmpDir(t)
  await buildLog(dir, 100)
  const byStream = await dump('-l', dir, '--stream', 'sensors/*')
  t.is(byStream.length, 67)
  t.true(byStream.every((r) => r.stream.startsWith('sensors/')))
  const two = await dump('-l', dir, '-s', 'events', '-s', 'sensors/hu?')
  t.is(two.length, 66)
  t.deepEqual([...new Set(two.map((r) => r.stream))].sort(), ['events', 'sensors/hum'])
  // Exact names (no glob characters) go to the reader's own stream filter.
  const exact = await dump('-l', dir, '-s', 'events')
  t.is(exact.length, 33)
  t.true(exact.every((r) => r.stream === 'events'))
  const mod = await dump('-l', dir, '--module', 'valve-*', '--stream', 'events')
  t.true(mod.length > 0)
  t.true(mod.every((r) => r.module === 'valve-7' && r.stream === 'events'))
  t.deepEqual(
    (await dump('-l', dir, '--from', '40', '--to', '44')).map((r) => r.lsn),
    [40, 41, 42, 43, 44],
  )
  t.deepEqual(
    (await dump('-l', dir, '--from', '90', '--limit', '3')).map((r) => r.lsn),
    [90, 91, 92],
  )
  // Record i (lsn i+1) was received at base + i s.
  const iso = (s: number) => new Date(kBaseRtsUs / 1000 + s * 1000).toISOString()
  t.deepEqual(
    (await dump('-l', dir, '--from', iso(10), '--to', iso(12))).map((r) => r.lsn),
    [11, 12, 13],
  )
  t.deepEqual(await dump('-l', dir, '--from', '-5m'), [], 'the test log is older than five minutes')
  const bad = await cli('dump', '-l', dir, '--from', 'yesterday-ish')
  t.is(bad.code, 2)
  t.regex(bad.stderr, /--from expects an LSN/)
})

test('dump --body: text, hex, base64, auto', async (t) => {
  const dir = tmpDir(t)
  await buildLog(dir, 8)
  const text = sample(0).body
  const bin = sample(3).body
  const get = async (fmt: string) => {
    const rs = await dump('-l', dir, '--body', fmt, '--to', '4')
    return [rs[0]!, rs[3]!] as const
  }
  const [tText, tBin] = await get('text')
  t.like(tText, { bodyEncoding: 'utf8', body: Buffer.from(text).toString('utf8') })
  t.is(tBin.bodyEncoding, 'utf8')
  const [hText, hBin] = await get('hex')
  t.like(hText, { bodyEncoding: 'hex', body: Buffer.from(text).toString('hex') })
  t.is(hBin.body, Buffer.from(bin).toString('hex'))
  const [bText] = await get('base64')
  t.like(bText, { bodyEncoding: 'base64', body: Buffer.from(text).toString('base64') })
  const [aText, aBin] = await get('auto')
  t.like(aText, { bodyEncoding: 'utf8', body: Buffer.from(text).toString('utf8') })
  t.like(aBin, { bodyEncoding: 'base64', body: Buffer.from(bin).toString('base64') })
  const bad = await cli('dump', '-l', dir, '--body', 'rot13')
  t.is(bad.code, 2)
})

test('dump while a writer holds the log: committed records only, writer untouched', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir, small)
  t.teardown(() => log.close())
  await writeRecords(log, 0, 30, kBaseRtsUs)
  const first = await dump('-l', dir)
  t.is(first.length, 30)
  await writeRecords(log, 30, 15, kBaseRtsUs)
  const second = await dump('-l', dir, '--from', '31')
  t.deepEqual(
    second.map((r) => r.lsn),
    Array.from({ length: 15 }, (_, i) => i + 31),
  )
  // The writer still works after a reader process came and went.
  t.deepEqual(
    log.append({
      module: 'late',
      core: '',
      seq: 1n,
      rts: kBaseRtsUs,
      records: [{ stream: 's', ts: kBaseRtsUs, body: new Uint8Array(1) }],
    }),
    { firstLsn: 46, lastLsn: 46 },
  )
})
