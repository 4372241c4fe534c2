import { request } from 'node:http'
import test from 'ava'
import { Metrics, startMetricsServer } from '../src/index.ts'
import { parsePrometheus } from './fixtures/parse-prometheus.ts'

function get(port: number, path: string, method = 'GET') {
  return new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (body += c))
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }),
      )
    })
    req.on('error', reject)
    req.end()
  })
}

test('GET /metrics and /healthz over a real socket', async (t) => {
  const metrics = new Metrics()
  const c = metrics.counter('mi_frames_total', 'Frames')
  let healthy = true
  const server = await startMetricsServer({ host: '127.0.0.1', port: 0, metrics, healthy: () => healthy })
  t.teardown(() => server.close())
  t.true(server.address.port > 0)

  c.inc(3)
  const res = await get(server.address.port, '/metrics')
  t.is(res.status, 200)
  t.regex(res.type, /^text\/plain; version=0\.0\.4/)
  t.is(parsePrometheus(res.body).samples.find((s) => s.name === 'mi_frames_total')?.value, 3)

  t.is((await get(server.address.port, '/healthz')).status, 200)
  healthy = false
  t.is((await get(server.address.port, '/healthz')).status, 503)
  t.is((await get(server.address.port, '/nope')).status, 404)
  t.is((await get(server.address.port, '/metrics', 'POST')).status, 405)
})

test('close() frees the port', async (t) => {
  const server = await startMetricsServer({ port: 0, metrics: new Metrics() })
  await server.close()
  await t.throwsAsync(get(server.address.port, '/healthz'))
})
