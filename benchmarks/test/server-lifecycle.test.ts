/**
 * The harness and its servers. A server that dies during a row must say so in the row (exit code
 * or signal, its last log lines) and leave its whole log behind: three benchmark servers
 * "vanished" in one day with nothing kept to tell a crash from someone else's kill.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { measureTarget } from '../src/measure.ts'
import type { RunContext } from '../src/scenario.ts'

test('a server killed mid-row: the row ends at once, fails with the signal and the log tail, the log is kept', async (t) => {
  t.timeout(120_000)
  const base = await mkdtemp(join(tmpdir(), 'mi-bench-died-'))
  t.teardown(() => rm(base, { recursive: true, force: true }))
  const logged: string[] = []
  const ctx = {
    quick: true,
    big: false,
    named: new Set<string>(),
    targets: new Set(['ours']),
    window: 16,
    windowFixed: true,
    workers: 1,
    warmupMs: 100,
    measureMs: 500,
    scratch: join(base, 'run-1'),
    log: (m: string) => logged.push(m),
  } as RunContext
  let pid = 0
  const row = await measureTarget(ctx, 'died', 'ours', {
    bodyBytes: 16,
    connections: 1,
    async prepare(ut) {
      if (ut.kind !== 'ours') throw new Error('ours expected')
      pid = ut.server.pid
      // What another process's kill (or the OOM killer) does; then wait like a client whose
      // pending sends never settle: the row must end with the server, not hang.
      process.kill(pid, 'SIGKILL')
      return new Promise<Record<string, number>>(() => {})
    },
  })
  t.regex(
    String(row.extra.failed),
    new RegExp(`server pid ${pid} died during the row: signal SIGKILL \\((not the OOM|dmesg)`),
  )
  t.true(row.errors >= 1)
  t.regex(String(row.extra.server_log_tail), /ServerListening/)
  const kept = String(row.extra.server_log)
  t.is(kept, join(base, 'died-died-ours-1.log'))
  const text = await readFile(kept, 'utf8')
  t.regex(text, /ServerListening/, 'every line the server printed')
  t.regex(text, /exited on its own: signal SIGKILL/)
  t.true(logged.some((m) => m.includes('died during the row: signal SIGKILL')))
})

test('a server the harness stops is not reported as dead', async (t) => {
  t.timeout(120_000)
  const base = await mkdtemp(join(tmpdir(), 'mi-bench-died-'))
  t.teardown(() => rm(base, { recursive: true, force: true }))
  const { startOurs } = await import('../src/targets/ours.ts')
  const server = await startOurs({ dataDir: join(base, 'data'), flush: 'always' })
  await server.kill()
  t.is(server.died(), null)
  t.regex(await readFile(server.logFile, 'utf8'), /killed by the harness/)
})

test('a data dir deeper than a Unix socket path allows still starts (admin socket moved to tmpdir)', async (t) => {
  t.timeout(120_000)
  const base = await mkdtemp(join(tmpdir(), 'mi-bench-long-'))
  t.teardown(() => rm(base, { recursive: true, force: true }))
  const { startOurs } = await import('../src/targets/ours.ts')
  const dataDir = join(base, 'x'.repeat(60), 'throughput-128-c100-ours-interval-2')
  const server = await startOurs({ dataDir, flush: 'interval' })
  t.teardown(() => server.kill())
  t.true(Buffer.byteLength(join(dataDir, 'admin.sock')) > 107)
  t.truthy((await server.stats()).metrics, 'the admin socket answers')
})
