/**
 * End to end: the real `module-ingest serve` with the built-in `ai` subscriber, records sent over
 * MIP/1 by `module-ingest send`, derived records read back from the log with `tail`. A second
 * instance points at a missing model: it fails init with a *_FATAL code naming the file, the
 * runtime shows it as failed, and the server goes on ingesting and scoring with the first.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startServerProcess } from '@module-ingest/testing'
import test from 'ava'
import type { AiResult } from '../src/index.ts'
import { close, EXAMPLES, FIELDS, jsonBody } from './helpers/fixtures.ts'

const CLI = fileURLToPath(new URL('../../../apps/server/src/cli.ts', import.meta.url))

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

async function tail(
  stream: string,
  dataDir: string,
  cwd: string,
): Promise<{ body: string; stream: string }[]> {
  const r = await run(['tail', '--stream', stream, '--format', 'json', '--data-dir', dataDir], cwd)
  return r.stdout.trim()
    ? r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
    : []
}

test('serve with `use: ai` scores records sent over MIP/1 into ai.<instance>; a bad model fails only its instance', async (t) => {
  const cwd = await mkdtemp(join(tmpdir(), 'mi-ai-e2e-'))
  t.teardown(() => rm(cwd, { recursive: true, force: true }))
  const dataDir = join(cwd, 'data')
  const missing = join(cwd, 'models', 'missing.onnx')
  const subscribers = [
    { name: 'scorer', use: 'ai', streams: ['telemetry.*'], options: { mapping: { fields: FIELDS } } },
    {
      name: 'broken',
      use: 'ai',
      streams: ['telemetry.*'],
      options: { mapping: { fields: FIELDS }, onnx: { path: missing } },
    },
  ]
  // A cold start (type stripping of every module, the plugin's imports) on a machine shared by
  // many jobs has taken longer than the helper's default 30 s.
  const server = await startServerProcess({
    dataDir,
    set: { subscribers: JSON.stringify(subscribers) },
    startTimeoutMs: 120_000,
  })
  t.teardown(() => server.kill('SIGKILL'))
  const lines = EXAMPLES.map((e) => JSON.stringify(jsonBody(e.input))).join('\n')
  const sent = await run(
    ['send', '--stream', 'telemetry.pump', '--port', String(server.port), '--data-dir', dataDir],
    cwd,
    lines,
  )
  t.is(sent.code, 0, sent.stderr)

  let scores: { body: string; stream: string }[] = []
  for (let i = 0; i < 300 && scores.length < EXAMPLES.length; i++) {
    scores = await tail('ai.scorer', dataDir, cwd)
    if (scores.length < EXAMPLES.length) await new Promise((r) => setTimeout(r, 100))
  }
  t.is(scores.length, EXAMPLES.length)
  const results = scores.map((s) => JSON.parse(s.body) as AiResult)
  results.forEach((r, i) => {
    t.is(r.stream, 'telemetry.pump')
    t.true(
      close(r.outputs.score as number, EXAMPLES[i]!.score),
      `${r.outputs.score} vs ${EXAMPLES[i]!.score}`,
    )
  })
  // The records behind the scores are in the log too, joinable by lsn.
  const raw = await tail('telemetry.pump', dataDir, cwd)
  t.is(raw.length, EXAMPLES.length)

  // The broken instance reported its model file, is shown as failed, and dead-lettered nothing.
  let initError: Record<string, unknown> | undefined
  for (let i = 0; i < 300 && !initError; i++) {
    initError = server.logs.find((l) => l.msg === 'SubscriberFailed' && JSON.stringify(l).includes('broken'))
    if (!initError) await new Promise((r) => setTimeout(r, 100))
  }
  t.truthy(initError, 'init failure logged')
  t.true(JSON.stringify(initError).includes(missing), JSON.stringify(initError))
  t.true(JSON.stringify(initError).includes(`cannot load the ONNX model ${missing}`))
  t.true(JSON.stringify(initError).includes('MI_ERR_AI_MODEL_LOAD_FATAL'))
  t.deepEqual(await tail('dlq.broken', dataDir, cwd), [])
  server.kill('SIGTERM')
  t.is(await server.exited, 0)
})
