import { fork } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import test from 'ava'
import { fixture, readLines, tempDir, waitFor, writeRecords } from './fixtures/_harness.ts'

function startChild(dir: string, out: string) {
  const child = fork(fixture('_runtime-child.ts'), [dir, out], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const ready = once(child, 'message').then(([m]) => m as { nextLsn: number })
  return { child, ready }
}

test('SIGKILL mid-delivery: the restarted runtime resumes from the committed offset, no gaps', async (t) => {
  const dir = tempDir(t)
  const out = join(dir, 'o.txt')
  const last = await writeRecords(dir, 400)
  const a = startChild(dir, out)
  t.teardown(() => a.child.kill('SIGKILL'))
  await a.ready
  await waitFor('some deliveries', () => readLines(out).length >= 120)
  a.child.kill('SIGKILL')
  await once(a.child, 'exit')
  const beforeRestart = readLines(out).length

  const b = startChild(dir, out)
  t.teardown(() => b.child.kill('SIGKILL'))
  const { nextLsn } = await b.ready
  t.true(nextLsn > 1, `resumed from a committed offset (${nextLsn})`)
  t.true(nextLsn <= beforeRestart + 1, 'never past what was delivered')
  await waitFor('everything', () => new Set(readLines(out).map((l) => l.lsn)).size >= last)
  b.child.kill('SIGTERM')
  await once(b.child, 'exit')
  const lsns = readLines(out).map((l) => l.lsn)
  t.deepEqual(
    [...new Set(lsns)].sort((x, y) => x - y),
    Array.from({ length: last }, (_, i) => i + 1),
  )
  // At-least-once: redeliveries are bounded by what was uncommitted at the kill.
  t.true(lsns.length - last <= beforeRestart - (nextLsn - 1))
})
