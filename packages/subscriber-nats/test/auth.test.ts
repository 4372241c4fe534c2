// Credentials options against an own nats-server started with --user/--pass or --auth.

import { createTestHarness } from '@module-ingest/subscriber-sdk/testkit'
import { requireNatsServerBinary, startNatsServer } from '@module-ingest/testing'
import test from 'ava'
import sub from '../src/index.ts'
import { readStream } from './fixtures/stream.ts'

const ownNats = requireNatsServerBinary().gate(test)
const fast = { unavailableWaitMs: 1500, reconnectTimeWaitMs: 100, connectTimeoutMs: 1000 }
const codeOf = (err: unknown) => (err as { code?: string } | undefined)?.code

ownNats('user/pass: the right pair publishes, a wrong one fails init as unavailable', async (t) => {
  await using server = await startNatsServer({
    jetstream: true,
    args: ['--user', 'edge', '--pass', 's3cret'],
  })
  const servers = server.url
  const bad = createTestHarness(sub, { config: { servers, user: 'edge', pass: 'nope', ...fast } })
  const err = await t.throwsAsync(bad.init())
  t.is(codeOf(err), 'MI_ERR_NATS_UNAVAILABLE')
  t.regex((err as Error).message, /authori[sz]ation/i)

  const good = createTestHarness(sub, {
    config: { servers, user: 'edge', pass: 's3cret', stream: 'AUTH', ...fast },
  })
  t.teardown(() => good.close())
  await good.init()
  await good.deliver([{ body: 'ok' }])
  t.is((await readStream({ servers, user: 'edge', pass: 's3cret' }, 'AUTH')).length, 1)
})

ownNats('token', async (t) => {
  await using server = await startNatsServer({ jetstream: true, args: ['--auth', 'tok-123'] })
  const h = createTestHarness(sub, {
    config: { servers: server.url, token: 'tok-123', stream: 'TOK', ...fast },
  })
  t.teardown(() => h.close())
  await h.init()
  await h.deliver([{ body: 'ok' }])
  t.is((await readStream({ servers: server.url, token: 'tok-123' }, 'TOK')).length, 1)
})
