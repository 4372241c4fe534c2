// startEngine() and listen() fail with coded errors instead of hanging or leaving threads behind;
// thread message switches fail loudly on a code nobody handles.
import { mkdirSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createToken } from '@module-ingest/auth'
import { loadConfig } from '@module-ingest/config'
import { createLogger } from '@module-ingest/telemetry'
import test from 'ava'
import { unknownMessage } from '../src/errors.ts'
import { startEngine } from '../src/index.ts'

async function setup(t: { teardown(fn: () => unknown): void }, flags: Record<string, unknown> = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), 'mi-engine-start-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  await createToken(join(dataDir, 'credentials.yaml'), {
    module: 'sensor-*',
    scopes: ['write:*'],
    kind: 'token',
  })
  const config = loadConfig({
    env: {},
    flags: { listen: '127.0.0.1:0', dataDir, 'workers.parsers': 1, 'telemetry.metrics': false, ...flags },
  })
  return { dataDir, config, logger: createLogger({ level: 'silent' }) }
}

test('a log the writer cannot open rejects the start with its reason and the recover-dump command', async (t) => {
  const { dataDir, config, logger } = await setup(t)
  mkdirSync(join(dataDir, 'log'))
  writeFileSync(join(dataDir, 'log', 'writer.pid'), `${process.ppid}\n`) // a live process (not this one) holds it
  const err = await t.throwsAsync(startEngine(config, { logger }), {
    code: 'MI_ERR_ENGINE_LOG_OPEN',
  } as never)
  t.regex(err!.message, /MI_ERR_LOG_LOCKED/)
  t.regex(err!.message, /module-ingest-recover-dump verify --log-dir /)
  t.is((err!.cause as { code?: string }).code, 'MI_ERR_LOG_LOCKED')
})

test('listen() on a port in use rejects with MI_ERR_ENGINE_LISTEN_FAILED; the engine still closes', async (t) => {
  const held = net.createServer()
  await new Promise<void>((r) => held.listen(0, '127.0.0.1', r))
  t.teardown(() => held.close())
  const { port } = held.address() as net.AddressInfo
  const { config, logger } = await setup(t, { listen: `127.0.0.1:${port}` })
  const engine = await startEngine(config, { logger })
  t.is(engine.address, null)
  const err = await t.throwsAsync(engine.listen(), { code: 'MI_ERR_ENGINE_LISTEN_FAILED' } as never)
  t.regex(err!.message, /EADDRINUSE/)
  await engine.close()
})

test('a thread message code nobody handles is a coded error, not silence', (t) => {
  t.throws(() => unknownMessage('writer event', { code: 'NOPE' } as never), {
    code: 'MI_ERR_ENGINE_MESSAGE_UNKNOWN',
    message: /writer event message code "NOPE"/,
  } as never)
})
