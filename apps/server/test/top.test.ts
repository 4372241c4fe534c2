// `module-ingest top` in a real terminal: tmux gives it a pseudo-terminal (raw-mode stdin), we read
// the screen with capture-pane and quit with `q`.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect } from '@module-ingest/client'
import type { Sample } from '@module-ingest/dashboard'
import { adminRequest, type WindowRead } from '@module-ingest/telemetry'
import { decide, startServerProcess } from '@module-ingest/testing'
import test from 'ava'
import { renderTop, sparkline } from '../src/commands/top.ts'

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
const hasTmux = spawnSync('tmux', ['-V']).status === 0
const tmuxGate = decide('tmux', hasTmux ? '' : 'tmux is not installed (apt-get install -y tmux)')

test('sparkline scales to the max and keeps the last `width` values', (t) => {
  t.is(sparkline([0, 0, 0], 3), '▁▁▁')
  t.is(sparkline([0, 1, 2, 4, 8], 5), '▁▁▂▄█')
  t.is(sparkline([1, 2, 3, 4], 2).length, 2)
})

test('renderTop shows rates, latencies, the log and one row per subscriber', (t) => {
  const base: Sample = {
    t: Date.UTC(2026, 0, 1, 12, 0, 0),
    recordsPerSec: 1500,
    bytesPerSec: 2_500_000,
    recordsTotal: 10,
    bytesTotal: 10,
    ackUs: { count: 100, p50: 800, p99: 3200, p999: 5100 },
    flushUs: { count: 10, p50: 500, p99: 1000, p999: 2000 },
    groupRecords: null,
    connections: 3,
    sessions: 2,
    logBytes: 12_300_000,
    segments: 2,
    oldestRecordAgeSec: 300,
    diskFreeBytes: 5e9,
    ringUsedBytes: { 'inbound/0': 4096 },
    subscribers: [
      { name: 'nats-1', state: 'running', lag: 42, delivered: 7, ratePerSec: 12.5, lastError: 'boom' },
    ],
  }
  const spike = { ...base, t: base.t + 1000, ackUs: { count: 5, p50: 800, p99: 250_000, p999: 250_000 } }
  const text = renderTop([base, spike, { ...base, t: base.t + 2000, recordsPerSec: 3000 }], '/tmp/admin.sock')
  t.regex(text, /records\/s\s+3000\s+[▁-█]+/)
  t.regex(text, /MB\/s\s+2\.50/)
  t.regex(text, /percentiles last 1\.0 s/)
  t.regex(text, /ack ms\s+p50 0\.80 {2}p99 3\.20 {2}p99\.9 5\.10\s+▁█▁/, 'the spike second stands out')
  t.regex(text, /group records\s+none recorded/)
  t.regex(text, /segments 2 {2}oldest 5\.0 min {2}disk free 5\.00 GB/)
  t.regex(text, /nats-1\s+running\s+42\s+12\.5\s+[▁-█]+\s+boom/)
  t.regex(renderTop([], 'x'), /waiting for the first sample/)
})

test('stats {window}: each named reader gets what was recorded since its own previous request', async (t) => {
  const cwd = await mkdtemp(join(tmpdir(), 'mi-top-window-'))
  const dataDir = join(cwd, 'data')
  const server = await startServerProcess({ dataDir })
  const client = await connect({
    port: server.port,
    module: 'top-window',
    auth: { token: await server.devToken() },
  })
  t.teardown(async () => {
    await client.close()
    server.kill('SIGKILL')
    await rm(cwd, { recursive: true, force: true })
  })
  const socket = join(dataDir, 'admin.sock')
  type Reply = { metrics: { histograms: Array<{ name: string; count: number }> }; interval?: WindowRead }
  const stats = (args?: Record<string, unknown>) => adminRequest(socket, 'stats', args) as Promise<Reply>
  const acks = (r: { histograms: Array<{ name: string; count: number }> } | undefined) =>
    r?.histograms.find((h) => h.name === 'mi_ack_latency_us')?.count ?? 0

  t.is(acks((await stats({ window: 'a' })).interval), 0, 'a new window starts empty')
  for (let i = 0; i < 5; i++) await client.sendBatch([{ stream: 'top.window', body: `r${i}` }])
  const a1 = await stats({ window: 'a' })
  t.true(acks(a1.interval) >= 5, `window a saw the ACKs (${acks(a1.interval)})`)
  t.true((a1.interval?.seconds ?? 0) > 0)
  t.is(acks((await stats({ window: 'b' })).interval), 0, 'b was created after them')
  t.is(acks((await stats({ window: 'a' })).interval), 0, 'a read them already')
  const plain = await stats()
  t.is(plain.interval, undefined, 'no window, no interval: the reply is as before')
  t.true(acks(plain.metrics) >= 5, 'cumulative')
})

tmuxGate.gate(test)('top renders a frame under a terminal and q quits', async (t) => {
  const cwd = await mkdtemp(join(tmpdir(), 'mi-top-'))
  const dataDir = join(cwd, 'data')
  const session = `mi-top-${process.pid}`
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', session, ...args], { encoding: 'utf8' })
  const server = await startServerProcess({
    dataDir,
    set: {
      subscribers: JSON.stringify([
        { name: 'anomaly-1', use: '@module-ingest/subscriber-example', streams: ['telemetry.*'] },
      ]),
    },
  })
  t.teardown(async () => {
    spawnSync('tmux', ['-L', session, 'kill-server'])
    server.kill('SIGKILL')
    await rm(cwd, { recursive: true, force: true })
  })
  const done = join(cwd, 'done')
  const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} top --data-dir ${JSON.stringify(dataDir)} --interval-ms 500; echo "exit=$?" > ${JSON.stringify(done)}; sleep 60`
  tmux('new-session', '-d', '-s', 'top', '-x', '120', '-y', '40', cmd)
  let screen = ''
  for (let i = 0; i < 600; i++) {
    screen = tmux('capture-pane', '-p', '-t', 'top')
    if (/records\/s/.test(screen) && /anomaly-1\s+running/.test(screen)) break
    await new Promise((r) => setTimeout(r, 100))
  }
  t.regex(screen, /module-ingest top/)
  t.regex(screen, /records\/s\s+\d+/)
  t.regex(screen, /ack ms\s+(p50 [\d.]+|none recorded)/)
  t.regex(screen, /SUBSCRIBER\s+STATE\s+LAG/)
  t.regex(screen, /anomaly-1\s+running\s+\d+/)
  tmux('send-keys', '-t', 'top', 'q')
  let exit = ''
  for (let i = 0; i < 300 && exit === ''; i++) {
    exit = spawnSync('cat', [done], { encoding: 'utf8' }).stdout.trim()
    if (exit === '') await new Promise((r) => setTimeout(r, 100))
  }
  t.is(exit, 'exit=0')
  server.kill('SIGTERM')
  t.is(await server.exited, 0)
})
