/**
 * ClaimCoordinator keeps bounded per-module state (issue 11.3): past maxTrackedModules the least
 * recently claimed modules are forgotten, and a claim for a forgotten module barriers through every
 * worker before it is granted (so an older session anywhere is still superseded and made durable).
 */
import test from 'ava'
import { ClaimCoordinator } from '../src/claims.ts'
import type { ParserCommand } from '../src/messages.ts'

function harness(maxTrackedModules: number) {
  const sent: Array<[number, ParserCommand]> = []
  const claims = new ClaimCoordinator((w, cmd) => sent.push([w, cmd]), { workers: 3, maxTrackedModules })
  /** Answer every outstanding RELEASE with `hwm` (as the writer would once durable). */
  const settle = (hwm = 0n) => {
    for (const [, cmd] of sent.splice(0)) if (cmd.code === 'RELEASE') claims.barrier(cmd.token, hwm)
  }
  return { sent, claims, settle }
}

test('state stays bounded however many modules come and go', (t) => {
  const { claims, sent } = harness(100)
  for (let i = 0; i < 10_000; i++) {
    claims.claim({ module: `m${i}`, connId: i, worker: i % 3 })
    for (const [, cmd] of sent.splice(0)) if (cmd.code === 'RELEASE') claims.barrier(cmd.token, 0n)
  }
  t.is(claims.trackedModules, 100)
  t.is(claims.pending, 0)
})

test('a remembered module barriers through its last host only', (t) => {
  const { claims, sent, settle } = harness(10)
  claims.claim({ module: 'a', connId: 1, worker: 2 })
  settle(5n)
  claims.claim({ module: 'a', connId: 2, worker: 0 })
  const releases = sent.filter(([, c]) => c.code === 'RELEASE')
  t.deepEqual(
    releases.map(([w]) => w),
    [2],
  )
})

test('a forgotten module barriers through every worker; granted after all, with the highest hwm', (t) => {
  const { claims, sent, settle } = harness(2)
  for (const m of ['a', 'b', 'c']) {
    claims.claim({ module: m, connId: 1, worker: 1 })
    settle()
  }
  t.is(claims.trackedModules, 2) // 'a' forgotten
  claims.claim({ module: 'a', connId: 9, worker: 0 })
  const releases = sent.splice(0).filter(([, c]) => c.code === 'RELEASE') as Array<
    [number, Extract<ParserCommand, { code: 'RELEASE' }>]
  >
  t.deepEqual(releases.map(([w]) => w).sort(), [0, 1, 2])
  claims.barrier(releases[0]![1].token, 3n)
  claims.barrier(releases[1]![1].token, 7n)
  t.deepEqual(sent, [], 'not granted before every worker answered')
  claims.barrier(releases[2]![1].token, 7n)
  t.deepEqual(sent, [[0, { code: 'CLAIMED', module: 'a', connId: 9, hwm: 7n }]])
})
