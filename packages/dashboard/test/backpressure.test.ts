// A real socket that stops reading: the server must keep at most one frame queued beyond what the
// socket buffers, however many samples are taken meanwhile.
import { connect } from 'node:net'
import { Metrics, startMetricsServer } from '@module-ingest/telemetry'
import test from 'ava'
import { startDashboard } from '../src/dashboard.ts'
import type { StatsLike } from '../src/sample.ts'

test('a stalled SSE reader costs bounded memory and gets the newest frame when it resumes', async (t) => {
  const metrics = new Metrics()
  const appended = metrics.counter('mi_records_appended_total', 'records')
  // Big frames (many subscribers) fill the socket buffers quickly.
  const subscribers = Array.from({ length: 400 }, (_, i) => ({
    name: `subscriber-with-a-long-name-${i}`,
    state: 'running',
    lagRecords: i,
    delivered: i,
    lastError: 'x'.repeat(40),
  }))
  const stats = async (): Promise<StatsLike> => ({ metrics: metrics.summary(), subscribers })
  const dashboard = startDashboard({ stats, intervalMs: 60_000 })
  const server = await startMetricsServer({
    host: '127.0.0.1',
    port: 0,
    metrics,
    handlers: [dashboard.handler],
  })
  t.teardown(async () => {
    await dashboard.close()
    await server.close()
  })
  const socket = connect(server.address.port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  await new Promise((r) => socket.once('connect', r))
  socket.write('GET /dashboard/events HTTP/1.1\r\nHost: x\r\n\r\n')
  for (let i = 0; i < 600 && dashboard.clients() === 0; i++) await new Promise((r) => setTimeout(r, 50))
  socket.pause() // stop reading: kernel buffers fill, then res.write() returns false

  let frameBytes = 0
  for (let i = 0; i < 300; i++) {
    appended.inc(1)
    frameBytes = JSON.stringify(await dashboard.sample()).length
  }
  const client = dashboard.streams()[0]
  t.truthy(client)
  t.true((client?.dropped ?? 0) > 0, 'frames were dropped for the stalled reader')
  // What Node holds for this response: at most a few frames, never all 300.
  t.true(
    (client?.res.writableLength ?? 0) <= 4 * (frameBytes + 200),
    `buffered ${client?.res.writableLength} bytes for frames of ${frameBytes}`,
  )

  // Resume reading: the last frame to arrive is the newest sample.
  let text = ''
  socket.setEncoding('utf8')
  socket.on('data', (d: string) => {
    text += d
  })
  socket.resume()
  for (let i = 0; i < 600 && !text.includes('"recordsTotal":300,'); i++)
    await new Promise((r) => setTimeout(r, 50))
  t.true(text.includes('"recordsTotal":300,'), 'the newest sample arrived after the stall')
})
