// Against the real server (module-ingest serve as a child process): the page is on the metrics
// listener and the event stream carries numbers that match /metrics.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, startServerProcess } from '@module-ingest/testing'
import test from 'ava'
import { startLoad } from './load.ts'
import { readEvents } from './sse-reader.ts'

function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

test('a real server serves /dashboard and streams samples that match /metrics', async (t) => {
  const cwd = await mkdtemp(join(tmpdir(), 'mi-dash-server-'))
  t.teardown(() => rm(cwd, { recursive: true, force: true }))
  const metricsPort = await freePort()
  const server = await startServerProcess({
    dataDir: join(cwd, 'data'),
    set: { 'telemetry.metrics.listen': `127.0.0.1:${metricsPort}` },
  })
  t.teardown(() => server.kill('SIGKILL'))
  const base = `http://127.0.0.1:${metricsPort}`

  const page = await fetch(`${base}/dashboard`)
  t.is(page.status, 200)
  t.regex(await page.text(), /module-ingest/)

  const load = await startLoad(server.port, await server.devToken())
  for (let i = 0; i < 600 && load.sent() < 200; i++) await new Promise((r) => setTimeout(r, 50))
  await load.stop() // quiet now: the counters stop moving, so the stream and /metrics must agree
  const total = load.sent()
  t.true(total >= 200)

  // Wait for a sample taken after the load stopped (the sampler runs once a second).
  let last: { recordsTotal: number; connections: number; logBytes: number } | undefined
  for (let i = 0; i < 60; i++) {
    const events = await readEvents(`${base}/dashboard/events`, 1)
    const samples = JSON.parse(events[0]?.data ?? '{"samples":[]}').samples
    last = samples.at(-1)
    if (last && last.recordsTotal >= total) break
    await new Promise((r) => setTimeout(r, 500))
  }
  const metrics = await (await fetch(`${base}/metrics`)).text()
  t.is(last?.recordsTotal, metricValue(metrics, 'mi_records_appended_total'))
  t.true((last?.recordsTotal ?? 0) >= total)
  // The log only grows here; the sample is from before the scrape.
  const logBytes = metricValue(metrics, 'mi_log_bytes') ?? 0
  t.true((last?.logBytes ?? 0) > 0 && (last?.logBytes ?? 0) <= logBytes * 1.01 + 4096)

  // A live sample arrives on its own.
  const live = await readEvents(`${base}/dashboard/events`, 2)
  t.is(live[1]?.event, 'sample')

  server.kill('SIGTERM')
  t.is(await server.exited, 0)
})

test('telemetry.dashboard=false turns the page off', async (t) => {
  const cwd = await mkdtemp(join(tmpdir(), 'mi-dash-off-'))
  t.teardown(() => rm(cwd, { recursive: true, force: true }))
  const metricsPort = await freePort()
  const server = await startServerProcess({
    dataDir: join(cwd, 'data'),
    set: { 'telemetry.metrics.listen': `127.0.0.1:${metricsPort}`, 'telemetry.dashboard': false },
  })
  t.teardown(() => server.kill('SIGKILL'))
  t.is((await fetch(`http://127.0.0.1:${metricsPort}/dashboard`)).status, 404)
  server.kill('SIGTERM')
  t.is(await server.exited, 0)
})
