// The handler on a real HTTP listener (telemetry's metrics server), fed by a fake stats().
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CredentialStore, createOperator } from '@module-ingest/auth'
import { Metrics, startMetricsServer } from '@module-ingest/telemetry'
import test from 'ava'
import { operatorAuthorizer } from '../src/access.ts'
import { startDashboard } from '../src/dashboard.ts'
import type { StatsLike } from '../src/sample.ts'
import { readEvents } from './sse-reader.ts'

function fakeServer() {
  const metrics = new Metrics()
  const appended = metrics.counter('mi_records_appended_total', 'records')
  metrics.gauge('mi_connections', 'connections').set(2)
  const ack = metrics.histogram('mi_ack_latency_us', 'ack')
  const window = metrics.window('dashboard') // as the server does: one window, read per sample
  const stats = async (): Promise<StatsLike> => ({
    metrics: metrics.summary(),
    interval: window.read(),
    parsers: [{ sessions: 2 }],
    writer: { log: { bytesOnDisk: 1234, segments: 1 } },
    subscribers: [{ name: 'sub-a', state: 'running', lagRecords: 7, delivered: 3, lastError: null }],
  })
  return { metrics, appended, ack, stats }
}

async function listen(t: import('ava').ExecutionContext, dashboard: ReturnType<typeof startDashboard>) {
  const server = await startMetricsServer({
    host: '127.0.0.1',
    port: 0,
    metrics: new Metrics(),
    handlers: [dashboard.handler],
  })
  t.teardown(async () => {
    await dashboard.close()
    await server.close()
  })
  return `http://127.0.0.1:${server.address.port}`
}

test('serves the page, uPlot from npm and nothing else under /dashboard', async (t) => {
  const dashboard = startDashboard({ stats: fakeServer().stats, intervalMs: 60_000 })
  const base = await listen(t, dashboard)
  const page = await fetch(`${base}/dashboard`)
  t.is(page.status, 200)
  t.regex(page.headers.get('content-type') ?? '', /text\/html/)
  t.regex(await page.text(), /\/dashboard\/uplot\.js/)
  const js = await fetch(`${base}/dashboard/uplot.js`)
  t.is(js.status, 200)
  t.regex(await js.text(), /uPlot/)
  t.is((await fetch(`${base}/dashboard/app.js`)).status, 200)
  t.is((await fetch(`${base}/dashboard/uplot.css`)).status, 200)
  t.is((await fetch(`${base}/dashboard/../../etc/passwd`)).status, 404)
  t.is((await fetch(`${base}/dashboard/nope`)).status, 404)
  t.is((await fetch(`${base}/dashboard`, { method: 'POST' })).status, 405)
  t.is((await fetch(`${base}/metrics`)).status, 200, 'other routes pass through')
})

test('events: history on connect, then one sample per tick; Last-Event-ID resumes', async (t) => {
  const fake = fakeServer()
  const dashboard = startDashboard({ stats: fake.stats, intervalMs: 60_000, dataDir: tmpdir() })
  const base = await listen(t, dashboard)
  fake.appended.inc(10)
  for (let i = 0; i < 100; i++) fake.ack.record(i < 5 ? 90_000 : 1000) // a spike in the first interval
  await dashboard.sample()
  fake.appended.inc(5)
  for (let i = 0; i < 100; i++) fake.ack.record(1000)
  await dashboard.sample()

  const events = await readEvents(`${base}/dashboard/events`, 1)
  t.is(events[0]?.event, 'history')
  t.is(events[0]?.id, '2')
  const history = JSON.parse(events[0]?.data ?? '{}')
  t.is(history.samples.length, 2)
  t.is(history.samples[1].recordsTotal, 15)
  t.is(history.samples[1].connections, 2)
  t.is(history.samples[1].sessions, 2)
  t.is(history.samples[1].subscribers[0].lag, 7)
  t.true(history.samples[1].diskFreeBytes > 0)
  // Percentiles per interval: the spike is in the first sample only.
  t.like(history.samples[0].ackUs, { count: 100 })
  t.true(Math.abs(history.samples[0].ackUs.p99 - 90_000) < 100)
  t.like(history.samples[1].ackUs, { count: 100 })
  t.true(Math.abs(history.samples[1].ackUs.p99 - 1000) <= 1)
  t.is(history.samples[1].flushUs, null, 'nothing recorded: null, drawn as a gap')

  // A live sample follows the history.
  const live = readEvents(`${base}/dashboard/events`, 2, {
    lastEventId: '1',
    onEvent: (ev) => {
      if (ev.event !== 'history') return
      fake.appended.inc(1)
      void dashboard.sample()
    },
  })
  const [resumed, next] = await live
  t.deepEqual(
    JSON.parse(resumed?.data ?? '{}').samples.map((s: { recordsTotal: number }) => s.recordsTotal),
    [15],
    'only what followed id 1',
  )
  t.is(next?.event, 'sample')
  t.is(next?.id, '3')
  t.is(JSON.parse(next?.data ?? '{}').recordsTotal, 16)
})

test('with an authorizer: an operator token with read or admin scope, nothing else', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mi-dash-auth-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'credentials.yaml')
  const reader = await createOperator(file, { name: 'viewer', scopes: ['read:*'] })
  const admin = await createOperator(file, { name: 'root', scopes: ['admin'] })
  const writer = await createOperator(file, { name: 'pusher', scopes: ['write:*'] })
  const store = await CredentialStore.load(file)
  const dashboard = startDashboard({
    stats: fakeServer().stats,
    intervalMs: 60_000,
    authorize: operatorAuthorizer(store),
  })
  const base = await listen(t, dashboard)
  const get = (token?: string) =>
    fetch(`${base}/dashboard`, token ? { headers: { authorization: `Bearer ${token}` } } : {}).then(
      (r) => r.status,
    )
  t.is(await get(), 401)
  t.is(await get('mi_not-a-token'), 401)
  t.is(await get(writer.token), 401)
  t.is(await get(reader.token), 200)
  t.is(await get(admin.token), 200)
  // EventSource cannot set headers: the token may come as ?token=.
  const ac = new AbortController()
  const res = await fetch(`${base}/dashboard/events?token=${encodeURIComponent(reader.token)}`, {
    signal: ac.signal,
  })
  t.is(res.status, 200)
  ac.abort()
})
