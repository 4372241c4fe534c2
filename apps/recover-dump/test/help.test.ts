import test from 'ava'
import { cli } from './helpers.ts'

test('--help on the program lists every command', async (t) => {
  const r = await cli('--help')
  t.is(r.code, 0)
  for (const cmd of ['inspect', 'dump', 'verify', 'repair', 'export'])
    t.regex(r.stdout, new RegExp(`\\b${cmd}\\b`))
  t.regex(r.stdout, /Exit codes/)
})

for (const [cmd, flag] of [
  ['inspect', '--quick'],
  ['dump', '--body <format>'],
  ['verify', '--strict'],
  ['repair', '--yes'],
  ['export', '--out <file>'],
] as const) {
  test(`${cmd} --help`, async (t) => {
    const r = await cli(cmd, '--help')
    t.is(r.code, 0)
    t.true(r.stdout.includes(`Usage: module-ingest-recover-dump ${cmd}`))
    t.true(r.stdout.includes('--data-dir <dir>'))
    t.true(r.stdout.includes('--log-dir <dir>'))
    t.true(r.stdout.includes(flag))
  })
}

test('usage errors exit 2; a missing log exits 1', async (t) => {
  t.is((await cli('nope')).code, 2)
  const none = await cli('inspect')
  t.is(none.code, 2)
  t.regex(none.stderr, /--data-dir <dir> or --log-dir <dir> is required/)
  t.is((await cli('inspect', '--data-dir', 'a', '--log-dir', 'b')).code, 2)
  const missing = await cli('verify', '--data-dir', '/nonexistent/mi-data')
  t.is(missing.code, 1)
  t.regex(missing.stderr, /no log at \/nonexistent\/mi-data\/log/)
})
