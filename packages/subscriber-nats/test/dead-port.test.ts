// NATS at a dead port (no server at all): init fails with the coded MI_ERR_NATS_UNAVAILABLE, the
// retried init keeps one connect loop and its backoff, and the connect error is warned about once
// (not once per retry) with a code, never as an uncoded (MI_ERR_INTERNAL) error object.
import { createServer } from 'node:net'
import { createTestHarness } from '@module-ingest/subscriber-sdk/testkit'
import test from 'ava'
import sub from '../src/index.ts'

async function deadPort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1')
  await new Promise((r) => s.once('listening', r))
  const { port } = s.address() as { port: number }
  await new Promise((r) => s.close(r))
  return port
}

test('dead port: MI_ERR_NATS_UNAVAILABLE per init, one warning, attempts keep counting up', async (t) => {
  const port = await deadPort()
  const h = createTestHarness(sub, {
    config: {
      servers: `nats://127.0.0.1:${port}`,
      stream: 'DEAD',
      unavailableWaitMs: 150,
      reconnectTimeWaitMs: 20,
      connectTimeoutMs: 500,
    },
  })
  t.teardown(() => h.close())
  for (let i = 0; i < 3; i++) {
    const err = await t.throwsAsync(h.init())
    t.is((err as { code?: string }).code, 'MI_ERR_NATS_UNAVAILABLE')
  }
  const connectErrors = h.logs.filter((l) => l.obj.event === 'NatsConnectionError')
  t.true(connectErrors.length >= 1)
  t.is(connectErrors.filter((l) => l.level === 'warn').length, 1, 'the same problem is warned about once')
  t.true(connectErrors.every((l) => l.obj.code === 'MI_ERR_NATS_UNAVAILABLE' && l.obj.err === undefined))
  // One connect loop across the retried inits: its attempt numbers keep growing (its backoff too).
  const attempts = connectErrors.map((l) => l.obj.attempt as number)
  t.deepEqual(
    attempts,
    attempts.map((_, i) => i + 1),
  )
})
