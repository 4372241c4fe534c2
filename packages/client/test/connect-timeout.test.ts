// connectTimeoutMs: connect() answers (rejects with a reason) instead of retrying forever against a
// closed port, a silent (TLS) listener, or a plain listener spoken to in TLS. Plus the error codes of
// transient server ERRORs and the SNI rule for IP hosts.
import { once } from 'node:events'
import { createServer, type Server } from 'node:net'
import { ErrorCode } from '@module-ingest/protocol'
import test from 'ava'
import { connect, type WireCodedError } from '../src/index.ts'
import { startFakeServer } from './fixtures/_server.ts'

// Deprecation warnings are emitted once per process: record them from the start of this file.
const warnings: Array<{ code?: string; message: string }> = []
process.on('warning', (w) => warnings.push(w as { code?: string; message: string }))

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return (server.address() as { port: number }).port
}

async function closedPort(): Promise<number> {
  const s = createServer()
  const port = await listen(s)
  await new Promise((r) => s.close(r))
  return port
}

const base = { module: 'free', auth: { token: 't' }, host: '127.0.0.1' } as const
const fast = { initialDelayMs: 5, maxDelayMs: 50 }

test('a closed port: connect() rejects with MI_ERR_CLIENT_CONNECT_TIMEOUT naming ECONNREFUSED', async (t) => {
  const port = await closedPort()
  const err = await t.throwsAsync(connect({ ...base, port, reconnect: fast, connectTimeoutMs: 300 }))
  t.is((err as { code?: string }).code, 'MI_ERR_CLIENT_CONNECT_TIMEOUT')
  t.regex(err!.message, /ECONNREFUSED.*server running/)
})

test('a silent listener (what a TLS port looks like in plain text): the error suggests TLS', async (t) => {
  const silent = createServer((s) => s.on('error', () => {}))
  t.teardown(() => silent.close())
  const port = await listen(silent)
  const err = await t.throwsAsync(
    connect({ ...base, port, reconnect: fast, handshakeTimeoutMs: 100, connectTimeoutMs: 600 }),
  )
  t.is((err as { code?: string }).code, 'MI_ERR_CLIENT_CONNECT_TIMEOUT')
  t.regex(err!.message, /TLS listener/)
})

test('TLS against a plain MIP/1 listener: the error says the server did not speak TLS; no DEP0123 for an IP host', async (t) => {
  const server = await startFakeServer({ modules: { free: { token: 't' } } })
  t.teardown(() => server.close())
  const err = await t.throwsAsync(
    connect({ ...base, port: server.port, tls: true, reconnect: fast, connectTimeoutMs: 500 }),
  )
  t.is((err as { code?: string }).code, 'MI_ERR_CLIENT_CONNECT_TIMEOUT')
  t.regex(err!.message, /did not speak TLS/)
  await new Promise((r) => setImmediate(r))
  t.false(
    warnings.some((w) => w.code === 'DEP0123'),
    'an IP host must not be passed as servername',
  )
})

test('connectTimeoutMs is validated', async (t) => {
  const err = await t.throwsAsync(connect({ ...base, port: 1, connectTimeoutMs: 0 }))
  t.is((err as { code?: string }).code, 'MI_ERR_CLIENT_OPT_INVALID')
})

test('SHUTTING_DOWN is reported as a connection loss (MI_ERR_CLIENT_CONNECTION), and the client resumes', async (t) => {
  const server = await startFakeServer({ modules: { free: { token: 't' } } })
  t.teardown(() => server.close())
  const client = await connect({ ...base, port: server.port, reconnect: fast })
  t.teardown(() => client.close({ timeoutMs: 0 }))
  const errors: WireCodedError[] = []
  client.on('error', (e) => errors.push(e as WireCodedError))
  // Not events.once: it rejects on the 'error' event this test expects.
  const reconnected = new Promise((r) => client.once('connected', r))
  server.sendError(ErrorCode.SHUTTING_DOWN)
  await reconnected
  t.is(errors[0]?.code, 'MI_ERR_CLIENT_CONNECTION')
  t.is(errors[0]?.wireName, 'SHUTTING_DOWN')
  t.is(await client.send('s', 'after'), 1n)
})
