import test from 'ava'
import { probeTcp, requireNatsServerBinary, startNatsServer } from '../src/index.ts'

const natsTest = requireNatsServerBinary().gate(test)

natsTest('startNatsServer: stop, restart on the same port, kill, close', async (t) => {
  const server = await startNatsServer({ jetstream: true })
  t.true(server.running)
  t.is(server.url, `nats://127.0.0.1:${server.port}`)
  t.is(await probeTcp('127.0.0.1', server.port), null)
  t.regex(server.logs(), /JetStream/)
  await server.stop()
  t.false(server.running)
  t.not(await probeTcp('127.0.0.1', server.port), null)
  await server.restart()
  t.true(server.running)
  t.is(await probeTcp('127.0.0.1', server.port), null)
  await server.kill()
  t.false(server.running)
  await server.restart()
  t.is(await probeTcp('127.0.0.1', server.port), null)
  await server.close()
  t.false(server.running)
})
