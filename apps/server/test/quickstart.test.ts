/**
 * The README's Quick start, as a user runs it: `serve` on the embedded default (here on a free
 * port), `send` lines from stdin with the development token, `tail` them back, `stats`.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startServerProcess } from '@module-ingest/testing'
import test from 'ava'

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))

function run(
  args: string[],
  cwd: string,
  stdin = '',
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
    child.stdin.end(stdin)
  })
}

test('serve → send → tail → stats, with nothing but the embedded default', async (t) => {
  const cwd = await mkdtemp(join(tmpdir(), 'mi-quickstart-'))
  t.teardown(() => rm(cwd, { recursive: true, force: true }))
  const dataDir = join(cwd, 'data')
  // Default config (disk subscriber on); only the port and the admin/metrics endpoints move.
  const server = await startServerProcess({ dataDir })
  t.teardown(() => server.kill('SIGKILL'))
  const common = ['--data-dir', dataDir]

  const sent = await run(
    ['send', '--stream', 'telemetry.demo', '--port', String(server.port), ...common],
    cwd,
    '{"temp": 21.5}\n{"temp": 21.7}\nplain text\n',
  )
  t.is(sent.code, 0, sent.stderr)
  t.regex(sent.stdout + sent.stderr, /acked 3/)

  const tail = await run(['tail', '--stream', 'telemetry.demo', '--format', 'json', ...common], cwd)
  t.is(tail.code, 0, tail.stderr)
  const lines = tail.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { body: string; stream: string })
  t.deepEqual(
    lines.map((l) => l.body),
    ['{"temp": 21.5}', '{"temp": 21.7}', 'plain text'],
  )

  const stats = await run(['stats', '--json', ...common], cwd)
  t.is(stats.code, 0, stats.stderr)
  const json = JSON.parse(stats.stdout) as { subscribers: Array<{ name: string }> }
  t.true(
    json.subscribers.some((s) => s.name === 'disk'),
    'the disk subscriber runs by default',
  )

  // Audit: the handshake was logged, with the module and the address, never the token.
  const audit = server.logs.find((l) => l.event === 'AuthSucceeded')
  t.like(audit, { module: 'module-ingest-cli', remoteAddress: '127.0.0.1' })
  t.false(JSON.stringify(server.logs).includes(await server.devToken()))

  server.kill('SIGTERM')
  t.is(await server.exited, 0)

  // The disk subscriber archived them too (its offsets are committed on shutdown).
  const archived = await run(['archive', 'read', '--stream', 'telemetry.demo', ...common], cwd)
  t.is(archived.code, 0, archived.stderr)
  t.is(archived.stdout.trim().split('\n').length, 3)
})

test('a subscriber plugin named by its npm package emits derived records back into the log', async (t) => {
  const cwd = await mkdtemp(join(tmpdir(), 'mi-plugin-'))
  t.teardown(() => rm(cwd, { recursive: true, force: true }))
  const dataDir = join(cwd, 'data')
  const anomaly = {
    name: 'anomaly',
    use: '@module-ingest/subscriber-example',
    streams: ['telemetry.*'],
    options: { threshold: 2, minSamples: 5 },
  }
  const server = await startServerProcess({ dataDir, set: { subscribers: JSON.stringify([anomaly]) } })
  t.teardown(() => server.kill('SIGKILL'))
  const common = ['--data-dir', dataDir]
  const values = [20, 21, 19, 20, 21, 19, 20, 95].map((v) => JSON.stringify({ value: v })).join('\n')
  const sent = await run(
    ['send', '--stream', 'telemetry.temp', '--port', String(server.port), ...common],
    cwd,
    values,
  )
  t.is(sent.code, 0, sent.stderr)
  // The plugin runs in its own worker pool and appends its scores through the server's writer.
  let scores: Array<{ body: string }> = []
  for (let i = 0; i < 100 && scores.length === 0; i++) {
    const tail = await run(['tail', '--stream', 'ai.scores', '--format', 'json', ...common], cwd)
    scores = tail.stdout.trim()
      ? tail.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l))
      : []
    if (scores.length === 0) await new Promise((r) => setTimeout(r, 100))
  }
  t.is(scores.length, 1)
  t.like(JSON.parse(scores[0]!.body), { value: 95, stream: 'telemetry.temp' })
  server.kill('SIGTERM')
  t.is(await server.exited, 0)
})
