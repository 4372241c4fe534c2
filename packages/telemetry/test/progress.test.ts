import { PassThrough } from 'node:stream'
import test from 'ava'
import { formatBytes, Progress, renderBar } from '../src/progress.ts'

test('renderBar: percentage, amounts and ETA', (t) => {
  const line = renderBar('verify', 512 * 1024, 1024 * 1024, 'bytes', 2000)
  t.regex(line, /^verify [█░]{28} {2}50% {2}512\.0 KiB\/1\.00 MiB {2}ETA 2s$/)
  t.regex(renderBar('export', 10, 10, 'records', 5000), / 100% {2}10\/10 records$/)
  t.regex(renderBar('export', 1, 100, 'records', 60_000), /ETA 99m00s$/)
  t.regex(
    renderBar('queue-worker', 5, 10, 'LSNs', 1000, '7 delivered'),
    / 50% {2}5\/10 LSNs {2}7 delivered {2}ETA 1s$/,
  )
  t.is(formatBytes(1536), '1.50 KiB')
})

test('Progress draws only on a TTY (or forced) and when enabled', (t) => {
  const drawn = (o: { force?: boolean; enabled?: boolean }) => {
    const stream = new PassThrough() as unknown as NodeJS.WriteStream
    let out = ''
    ;(stream as unknown as PassThrough).on('data', (d) => (out += d))
    const bar = new Progress({ label: 'x', total: 2, unit: 'records', stream, ...o })
    bar.update(1)
    bar.stop()
    return out
  }
  t.is(drawn({}), '', 'a pipe: silent')
  t.is(drawn({ force: true, enabled: false }), '')
  t.regex(drawn({ force: true }), /^\rx [█░]{28} {2}50% {2}1\/2 records.*\n$/s)
})
