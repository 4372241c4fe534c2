// /metrics exports what subscribers do: plugin metrics collected in their worker threads (prefixed
// by instance), per-subscriber state and counts, and mi_build_info (issue 12 item 5).
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { adminRequest } from '@module-ingest/telemetry'
import { freePort, startServerProcess } from '@module-ingest/testing'
import test from 'ava'

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))

function send(cwd: string, args: string[], stdin: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'send', ...args], { cwd, stdio: ['pipe', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }))
    child.stdin.end(stdin)
  })
}

/** The value of one exported sample, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

test('plugin metrics, subscriber state and counts, and build info are on /metrics', async (t) => {
  const cwd = await mkdtemp(join(tmpdir(), 'mi-metrics-'))
  t.teardown(() => rm(cwd, { recursive: true, force: true }))
  const dataDir = join(cwd, 'data')
  const metricsPort = await freePort()
  const anomaly = {
    name: 'anomaly-1',
    use: '@module-ingest/subscriber-example',
    streams: ['telemetry.*'],
    options: { threshold: 2, minSamples: 5 },
  }
  // Fails with a *_FATAL code on every batch (issue 16): state failed, the code counted.
  const broken = {
    name: 'broken',
    use: fileURLToPath(new URL('./fixtures/fatal-plugin.ts', import.meta.url)),
    streams: ['telemetry.*'],
  }
  const server = await startServerProcess({
    dataDir,
    set: {
      subscribers: JSON.stringify([anomaly, broken]),
      'telemetry.metrics.listen': `127.0.0.1:${metricsPort}`,
    },
  })
  t.teardown(() => server.kill('SIGKILL'))
  const values = [20, 21, 19, 20, 21, 19, 20, 95].map((v) => JSON.stringify({ value: v })).join('\n')
  const sent = await send(
    cwd,
    ['--stream', 'telemetry.temp', '--port', String(server.port), '--data-dir', dataDir],
    values,
  )
  t.is(sent.code, 0, sent.stderr)

  let text = ''
  for (let i = 0; i < 300; i++) {
    text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
    // Plugin metrics arrive with the batch result; the delivery is counted once its emits are in.
    if (
      sample(text, 'mi_plugin_anomaly_1_scored_records_total') === 8 &&
      sample(text, 'mi_subscriber_delivered_records_total{subscriber="anomaly-1"}') === 8 &&
      sample(text, 'mi_subscriber_state{subscriber="broken",state="failed"}') === 1 &&
      /^mi_subscribers_loop_delay_us_count [1-9]/m.test(text)
    )
      break
    await new Promise((r) => setTimeout(r, 100))
  }
  // The example plugin counts in its worker thread; the name is prefixed by the instance.
  t.is(sample(text, 'mi_plugin_anomaly_1_scored_records_total'), 8, text)
  t.is(sample(text, 'mi_plugin_anomaly_1_anomalies_total'), 1)
  t.not(sample(text, 'mi_plugin_anomaly_1_tracked_keys'), undefined)
  t.is(sample(text, 'mi_subscriber_state{subscriber="anomaly-1",state="running"}'), 1)
  t.is(sample(text, 'mi_subscriber_state{subscriber="anomaly-1",state="paused"}'), 0)
  t.is(sample(text, 'mi_subscriber_delivered_records_total{subscriber="anomaly-1"}'), 8, text)
  t.regex(text, /^mi_subscriber_lag_records\{subscriber="anomaly-1"\} \d+$/m)
  // The event-loop delay of the main thread and of the runtime's own (subscriberRuntime.thread).
  t.regex(text, /^mi_main_loop_delay_us_count [1-9]/m)
  t.regex(text, /^mi_subscribers_loop_delay_us_count [1-9]/m)
  t.regex(text, /^mi_build_info\{version="[^"]+",node="[^"]+"\} 1$/m)
  t.is(sample(text, 'mi_subscriber_state{subscriber="broken",state="failed"}'), 1, text)
  t.is(sample(text, 'mi_subscriber_state{subscriber="broken",state="running"}'), 0)
  t.true(
    (sample(text, 'mi_subscriber_errors_total{subscriber="broken",code="MI_ERR_FIXTURE_BUCKET_FATAL"}') ??
      0) >= 1,
  )
  t.is(sample(text, 'mi_subscriber_dead_lettered_records_total{subscriber="broken"}') ?? 0, 0)
  // `module-ingest stats` (and the dashboard's table) read the same state and error.
  const stats = (await adminRequest(join(dataDir, 'admin.sock'), 'stats', {}, { timeoutMs: 20_000 })) as {
    subscribers: { name: string; state: string; lastError: { code: string } | null; failure: unknown }[]
  }
  const b = stats.subscribers.find((s) => s.name === 'broken')
  t.is(b?.state, 'failed')
  t.is(b?.lastError?.code, 'MI_ERR_FIXTURE_BUCKET_FATAL')
  t.like(b?.failure, { code: 'MI_ERR_FIXTURE_BUCKET_FATAL' })
  server.kill('SIGTERM')
  t.is(await server.exited, 0)
})
