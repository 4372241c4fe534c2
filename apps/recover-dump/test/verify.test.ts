import fs from 'node:fs'
import path from 'node:path'
import test from 'ava'
import { buildLog, cli, flipSealedByte, segFiles, tmpDir } from './helpers.ts'

test('verify: a clean log exits 0 with a summary', async (t) => {
  const dir = tmpDir(t)
  await buildLog(dir, 100)
  const r = await cli('verify', '--log-dir', dir)
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, new RegExp(`^OK: ${segFiles(dir).length} segments, 100 records`))
  t.is(r.stderr, '', 'no progress bar when stderr is not a TTY')
  const j = JSON.parse((await cli('verify', '--log-dir', dir, '--json')).stdout)
  t.like(j, { ok: true, records: 100, findings: [], warnings: [] })
  t.is(
    j.bytes,
    segFiles(dir).reduce((a, f) => a + fs.statSync(path.join(dir, f)).size, 0),
  )
})

test('verify: a flipped byte in a sealed segment exits 3 and names segment and offset', async (t) => {
  const dir = tmpDir(t)
  await buildLog(dir, 100)
  const bad = await flipSealedByte(dir)
  const r = await cli('verify', '--log-dir', dir)
  t.is(r.code, 3)
  t.regex(r.stdout, /^DAMAGED/)
  t.true(r.stdout.includes(`corrupt: segment ${bad.segment} offset ${bad.offset}:`), r.stdout)
  const j = JSON.parse((await cli('verify', '--log-dir', dir, '--json')).stdout)
  t.false(j.ok)
  t.is(j.findings.length, 1)
  t.like(j.findings[0], { kind: 'corrupt', segment: bad.segment, offset: bad.offset })
  t.regex(j.findings[0].reason, /crc/i)
})

test('verify: garbage after the last group is a torn tail (exit 3)', async (t) => {
  const dir = tmpDir(t)
  await buildLog(dir, 40)
  const last = path.join(dir, segFiles(dir).at(-1)!)
  const size = fs.statSync(last).size
  fs.appendFileSync(last, Buffer.from('garbage-garbage-garbage'))
  const j = JSON.parse((await cli('verify', '-l', dir, '--json')).stdout)
  t.false(j.ok)
  t.like(j.findings[0], { kind: 'torn-tail', segment: path.basename(last), offset: size })
})
