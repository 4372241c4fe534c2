import { createTestHarness } from '@module-ingest/subscriber-sdk/testkit'
import test from 'ava'
import { ARCHIVE_READ_USAGE, archiveReadCommand } from '../src/cli.ts'
import disk, { MI_ERR_DISK_CLI_ARGS } from '../src/index.ts'
import { records, tempDir } from './_helpers.ts'

async function run(argv: string[]) {
  const lines: string[] = []
  const count = await archiveReadCommand(argv, { write: (l) => void lines.push(l) })
  return { count, lines }
}

test('archive read prints NDJSON with filters and limit', async (t) => {
  const dir = tempDir(t)
  const h = createTestHarness(disk, { config: { dir }, name: 'cli' })
  await h.init()
  await h.deliver(records(1, 20))
  await h.close()
  const all = await run(['--dir', dir])
  t.is(all.count, 20)
  t.deepEqual(JSON.parse(all.lines[0]!), {
    lsn: 1,
    stream: 'telemetry.temp',
    module: 'm1',
    core: '',
    seq: '10',
    ts: records(1, 1)[0]!.ts,
    rts: records(1, 1)[0]!.rts,
    bodyEncoding: 'utf8',
    body: 'body-1',
  })
  const some = await run([
    '--dir',
    dir,
    '--stream',
    'telemetry.hum',
    '--from-lsn',
    '5',
    '--limit',
    '2',
    '--body',
    'hex',
  ])
  t.deepEqual(
    some.lines.map((l) => JSON.parse(l).lsn),
    [6, 8],
  )
  t.like(JSON.parse(some.lines[0]!), { bodyEncoding: 'hex', body: Buffer.from('body-6').toString('hex') })
  t.is((await run(['--dir', dir, '--to', '2000-01-01T00:00Z'])).count, 0)
})

test('archive read: usage and argument errors', async (t) => {
  t.deepEqual((await run(['--help'])).lines, [ARCHIVE_READ_USAGE])
  for (const [argv, message] of [
    [[], /--dir is required/],
    [['--dir', 'x', '--limit=-1'], /--limit must be/],
    [['--dir', 'x', '--from', 'yesterday'], /--from must be an ISO 8601 time/],
    [['--dir', 'x', '--body', 'latin1'], /--body must be/],
    [['--dir', 'x', '--nope'], /Unknown option/],
  ] as [string[], RegExp][]) {
    await t.throwsAsync(run(argv), { instanceOf: MI_ERR_DISK_CLI_ARGS, message })
  }
})
