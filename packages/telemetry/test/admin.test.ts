import { existsSync, mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { adminRequest, Metrics, startAdminServer } from '../src/index.ts'

const sockPath = () => join(mkdtempSync(join(tmpdir(), 'mi-adm-')), 'admin.sock')

test('request/response over a unix socket', async (t) => {
  const path = sockPath()
  const metrics = new Metrics()
  metrics.counter('mi_frames_total', 'Frames').inc(9)
  const server = await startAdminServer(path, {
    stats: () => metrics.summary(),
    echo: async (args) => args,
    boom: () => {
      const err = new Error('nope') as Error & { code: string }
      err.code = 'MI_ERR_TEST_BOOM'
      throw err
    },
  })
  t.teardown(() => server.close())
  t.is(statSync(path).mode & 0o777, 0o600)
  const stats = (await adminRequest(path, 'stats')) as ReturnType<Metrics['summary']>
  t.is(stats.counters[0]?.value, 9)
  t.deepEqual(await adminRequest(path, 'echo', { n: 5 }), { n: 5 })
  await t.throwsAsync(adminRequest(path, 'boom'), { code: 'MI_ERR_TEST_BOOM', message: 'nope' })
  await t.throwsAsync(adminRequest(path, 'nope'), { code: 'MI_ERR_TELEMETRY_ADMIN_UNKNOWN_CMD' })
  await t.throwsAsync(adminRequest(path, 'toString'), { code: 'MI_ERR_TELEMETRY_ADMIN_UNKNOWN_CMD' })
})

test('a live socket is not stolen; a stale one is replaced; close removes it', async (t) => {
  const path = sockPath()
  const a = await startAdminServer(path, { ping: () => 'a' })
  await t.throwsAsync(startAdminServer(path, {}), { code: 'MI_ERR_TELEMETRY_ADMIN_IN_USE' })
  await a.close()
  t.false(existsSync(path))
  await t.throwsAsync(adminRequest(path, 'ping'), { code: 'MI_ERR_TELEMETRY_ADMIN_UNREACHABLE' })
})
