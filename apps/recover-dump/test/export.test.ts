import fs from 'node:fs'
import path from 'node:path'
import { openLog, openReader, type StoredRecord } from '@module-ingest/log'
import test from 'ava'
import { kMsgpackMagic, readExport } from '../src/export-format.ts'
import { buildLog, cli, kBaseRtsUs, tmpDir } from './helpers.ts'

async function collect(file: string): Promise<StoredRecord[]> {
  const out: StoredRecord[] = []
  for await (const r of readExport(file)) out.push(r)
  return out
}

async function readLog(dir: string): Promise<StoredRecord[]> {
  const reader = await openReader(dir)
  const c = reader.cursor()
  const out: StoredRecord[] = []
  for (let got = await c.read(); got.length > 0; got = await c.read()) out.push(...got)
  await reader.close()
  return out
}

for (const format of ['ndjson', 'msgpack'] as const) {
  test(`export --format ${format}: every record round-trips, bodies byte for byte`, async (t) => {
    const dir = tmpDir(t)
    await buildLog(dir, 100)
    const out = path.join(dir, `x.${format}`)
    const r = await cli('export', '-l', dir, '--out', out, '--format', format)
    t.is(r.code, 0, r.stderr)
    t.regex(r.stdout, new RegExp(`exported 100 records .*${format}`))
    t.false(fs.existsSync(`${out}.partial`))
    if (format === 'msgpack') t.true(fs.readFileSync(out).subarray(0, 8).equals(kMsgpackMagic))
    else t.is(fs.readFileSync(out, 'utf8').trim().split('\n').length, 100)
    const got = await collect(out)
    const want = await readLog(dir)
    t.is(got.length, 100)
    t.deepEqual(
      got.map((x) => ({ ...x, body: Buffer.from(x.body) })),
      want.map((x) => ({ ...x, body: Buffer.from(x.body) })),
    )
  })
}

test('export applies the dump filters', async (t) => {
  const dir = tmpDir(t)
  await buildLog(dir, 100)
  const out = path.join(dir, 'sensors.ndjson')
  const r = await cli(
    'export',
    '-l',
    dir,
    '-o',
    out,
    '-s',
    'sensors/*',
    '-m',
    'pump-1',
    '--from',
    '11',
    '--to',
    '60',
  )
  t.is(r.code, 0, r.stderr)
  const got = await collect(out)
  const want = (await readLog(dir)).filter(
    (x) => x.stream.startsWith('sensors/') && x.module === 'pump-1' && x.lsn >= 11 && x.lsn <= 60,
  )
  t.true(want.length > 0)
  t.deepEqual(
    got.map((x) => x.lsn),
    want.map((x) => x.lsn),
  )
  const limited = path.join(dir, 'five.msgpack')
  t.is((await cli('export', '-l', dir, '-o', limited, '--format', 'msgpack', '--limit', '5')).code, 0)
  t.is((await collect(limited)).length, 5)
  t.is((await cli('export', '-l', dir, '-o', limited, '--format', 'csv')).code, 2)
  t.is((await cli('export', '-l', dir)).code, 2, '--out is required')
})

test('dump and export keep a u64 ts exact: a JSON string above 2^53-1, a msgpack uint64', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir)
  const kTs = [5, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n] as const
  log.append({
    module: 'm',
    core: '',
    seq: 1n,
    rts: kBaseRtsUs,
    records: kTs.map((ts) => ({ stream: 's', ts, body: new TextEncoder().encode(`ts ${ts}`) })),
  })
  await log.close()
  const json = kTs.map((ts) => (typeof ts === 'bigint' ? ts.toString() : ts))
  const dumped = await cli('dump', '-l', dir)
  t.is(dumped.code, 0, dumped.stderr)
  t.deepEqual(
    dumped.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).ts),
    json,
  )
  for (const format of ['ndjson', 'msgpack'] as const) {
    const out = path.join(dir, `x.${format}`)
    const r = await cli('export', '-l', dir, '--out', out, '--format', format)
    t.is(r.code, 0, r.stderr)
    t.deepEqual(
      (await collect(out)).map((x) => x.ts),
      [...kTs],
      format,
    )
  }
})
