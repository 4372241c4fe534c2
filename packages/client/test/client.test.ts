// Client against a real socket server (test/fixtures/_server.ts). Each test gets its own server on port 0.
import { once } from 'node:events'
import { ErrorCode, Flags, FrameType } from '@module-ingest/protocol'
import test from 'ava'
import {
  type Client,
  type ConnectOptions,
  connect as connectClient,
  type WireCodedError,
} from '../src/index.ts'
import { type FakeServer, type FakeServerOptions, startFakeServer } from './fixtures/_server.ts'

const KEY = Buffer.alloc(32, 0x42)
const MODULES: FakeServerOptions['modules'] = {
  tok: { token: 's3cret', scopes: ['write:telemetry.*'] },
  hm: { key: KEY, requireMac: true },
  free: { token: 't' },
}
const fast = { initialDelayMs: 5, maxDelayMs: 50, maxAttempts: 50 }

type T = import('ava').ExecutionContext

// Teardown closes servers and clients even when an assertion fails, so the worker can exit.
async function setup(t: T, opts?: Partial<FakeServerOptions>): Promise<FakeServer> {
  const server = await startFakeServer({ modules: MODULES, ...opts })
  t.teardown(() => server.close())
  return server
}

async function connect(t: T, o: ConnectOptions): Promise<Client> {
  const client = await connectClient(o)
  t.teardown(() => client.close({ timeoutMs: 0 }))
  return client
}

function opts(server: FakeServer, o?: Partial<ConnectOptions>): ConnectOptions {
  return { host: server.host, port: server.port, module: 'free', auth: { token: 't' }, reconnect: fast, ...o }
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5))
}

test('token auth: send resolves with seq 1 on ACK, the record is stored once', async (t) => {
  const server = await setup(t)
  const client = await connect(t, opts(server, { module: 'tok', auth: { token: 's3cret' } }))
  t.is(await client.send('telemetry.gps', 'hello', { ts: 1_700_000_000_000_000 }), 1n)
  t.is(await client.send('telemetry.gps', new Uint8Array([1, 2])), 2n)
  // Any u64 ts (PROTOCOL.md): a bigint above 2^53-1 goes out exactly.
  t.is(await client.send('telemetry.gps', 'max', { ts: 2n ** 64n - 1n }), 3n)
  t.deepEqual(
    server.stored.map((r) => [r.seq, r.stream, r.ts, r.body.toString('hex')]),
    [
      [1n, 'telemetry.gps', 1_700_000_000_000_000, Buffer.from('hello').toString('hex')],
      [2n, 'telemetry.gps', 0, '0102'],
      [3n, 'telemetry.gps', 2n ** 64n - 1n, Buffer.from('max').toString('hex')],
    ],
  )
  t.like(client.stats, { acked: 3, inFlight: 0, connected: true, reconnects: 0 })
  await client.close()
  await server.close()
})

test('a bad token rejects connect() with AUTH_FAILED and does not retry', async (t) => {
  const server = await setup(t)
  const err = await t.throwsAsync<WireCodedError>(
    connect(t, opts(server, { module: 'tok', auth: { token: 'nope' } })),
  )
  t.is(err?.code, 'MI_ERR_CLIENT_FATAL')
  t.is(err?.wireCode, ErrorCode.AUTH_FAILED)
  t.is(err?.wireName, 'AUTH_FAILED')
  await server.close()
})

test('NACK rejects that send with its code; the session goes on', async (t) => {
  const server = await setup(t)
  server.nackStream('telemetry.bad', ErrorCode.BAD_PAYLOAD)
  const client = await connect(t, opts(server, { module: 'tok', auth: { token: 's3cret' } }))
  const ok1 = client.send('telemetry.a', 'x')
  const forbidden = client.send('other', 'x')
  const bad = client.send('telemetry.bad', 'x')
  const ok2 = client.send('telemetry.a', 'y')
  t.is(await ok1, 1n)
  const e1 = await t.throwsAsync<WireCodedError>(forbidden)
  t.is(e1?.code, 'MI_ERR_CLIENT_NACK')
  t.is(e1?.wireCode, ErrorCode.FORBIDDEN)
  t.is(e1?.seq, 2n)
  t.is((await t.throwsAsync<WireCodedError>(bad))?.wireCode, ErrorCode.BAD_PAYLOAD)
  t.is(await ok2, 4n)
  t.deepEqual(
    server.stored.map((r) => r.seq),
    [1n, 4n],
  )
  // Rejected locally, as the server would: no seq used.
  const local = await t.throwsAsync<WireCodedError>(client.send('.hidden', 'x'))
  t.is(local?.wireCode, ErrorCode.BAD_PAYLOAD)
  t.is(local?.seq, undefined)
  t.is(await client.send('telemetry.a', 'z'), 5n)
  t.like(client.stats, { nacked: 2, acked: 3 })
  await client.close()
  await server.close()
})

test('window: send waits when the window is full, nothing unbounded is queued', async (t) => {
  const server = await setup(t)
  const client = await connect(t, opts(server, { window: 4 }))
  server.holdAcks(true)
  const sends = Array.from({ length: 10 }, (_, i) => client.send('s', `m${i}`))
  await until(() => server.received.length === 4)
  t.like(client.stats, { inFlight: 4, waiting: 6 })
  await new Promise((r) => setTimeout(r, 30))
  t.is(server.received.length, 4, 'no frame beyond the window reached the wire')
  server.holdAcks(false)
  t.deepEqual(
    await Promise.all(sends),
    Array.from({ length: 10 }, (_, i) => BigInt(i + 1)),
  )
  t.deepEqual(
    server.stored.map((r) => r.body.toString()),
    Array.from({ length: 10 }, (_, i) => `m${i}`),
  )
  await client.close()
  await server.close()
})

test('sendBatch: one seq, atomic, plain and zstd', async (t) => {
  const server = await setup(t)
  const client = await connect(t, opts(server))
  const recs = [
    { stream: 'a', body: 'one' },
    { stream: 'b.c', body: Buffer.alloc(3000, 7), ts: 5 },
    { stream: 'a', body: '' },
  ]
  t.is(await client.sendBatch(recs), 1n)
  t.is(await client.sendBatch(recs, { compress: true }), 2n)
  t.deepEqual(
    server.received.map((r) => r.flags & Flags.COMPRESSED),
    [0, Flags.COMPRESSED],
  )
  t.deepEqual(
    server.stored.map((r) => [r.seq, r.stream, r.body.length]),
    [
      [1n, 'a', 3],
      [1n, 'b.c', 3000],
      [1n, 'a', 0],
      [2n, 'a', 3],
      [2n, 'b.c', 3000],
      [2n, 'a', 0],
    ],
  )
  t.is((await t.throwsAsync<WireCodedError>(client.sendBatch([])))?.wireCode, ErrorCode.BAD_PAYLOAD)
  await client.close()
  await server.close()
})

test('hmac auth with a MAC session: every frame after HELLO_OK carries a MAC', async (t) => {
  const server = await setup(t)
  const client = await connect(t, opts(server, { module: 'hm', auth: { hmacKey: KEY.toString('hex') } }))
  t.is(await client.send('s', 'x'), 1n)
  t.is(await client.sendBatch([{ stream: 's', body: 'y' }], { compress: true }), 2n)
  const conn = [...server.conns][0]!
  t.is(conn.frames[0]!.type, FrameType.HELLO)
  t.true(conn.frames.slice(1).every((f) => (f.flags & Flags.MAC) !== 0))
  t.is(server.stored.length, 2)
  const wrong = await t.throwsAsync<WireCodedError>(
    connect(t, opts(server, { module: 'hm', auth: { hmacKey: Buffer.alloc(32, 1) } })),
  )
  t.is(wrong?.wireCode, ErrorCode.AUTH_FAILED)
  // The server requires MAC for 'hm': asking for none is AUTH_FAILED too.
  const noMac = await t.throwsAsync<WireCodedError>(
    connect(t, opts(server, { module: 'hm', auth: { hmacKey: KEY }, mac: false })),
  )
  t.is(noMac?.wireCode, ErrorCode.AUTH_FAILED)
  await client.close()
  await server.close()
})

async function exactlyOnce(
  t: import('ava').ExecutionContext,
  server: FakeServer,
  client: Client,
  n: number,
  fault: () => void,
) {
  const sends: Promise<bigint>[] = []
  for (let i = 0; i < n; i++) {
    sends.push(client.send('s', `m${i}`))
    if (i === Math.floor(n / 3)) fault()
    if (i % 50 === 0) await new Promise((r) => setImmediate(r))
  }
  const seqs = await Promise.all(sends)
  t.deepEqual(
    seqs,
    Array.from({ length: n }, (_, i) => BigInt(i + 1)),
  )
  t.deepEqual(
    server.stored.map((r) => r.body.toString()),
    Array.from({ length: n }, (_, i) => `m${i}`),
    'every awaited send stored exactly once, in order',
  )
  t.deepEqual(
    server.stored.map((r) => r.seq),
    seqs,
  )
}

test('resume after a dropped connection: no loss, no duplicates', async (t) => {
  const server = await setup(t)
  const client = await connect(t, opts(server, { window: 64 }))
  const disconnected = once(client, 'disconnected')
  await exactlyOnce(t, server, client, 300, () => server.dropAfter(20))
  await disconnected
  t.true(client.stats.reconnects >= 1)
  await client.close()
  await server.close()
})

test('resume after a transient ERROR (OVERLOADED) and after a server restart', async (t) => {
  const server = await setup(t)
  const client = await connect(
    t,
    opts(server, { window: 32, mac: true, module: 'hm', auth: { hmacKey: KEY } }),
  )
  await exactlyOnce(t, server, client, 200, () => {
    server.errorAfter(10, ErrorCode.OVERLOADED)
    setTimeout(() => void server.restart(), 5)
  })
  t.true(client.stats.reconnects >= 1)
  await client.close()
  await server.close()
})

test('HWM survives a restart: a new client continues after it', async (t) => {
  const server = await setup(t)
  const c1 = await connect(t, opts(server))
  for (let i = 0; i < 5; i++) await c1.send('s', 'x')
  await c1.close()
  await server.restart()
  const c2 = await connect(t, opts(server))
  t.is(await c2.send('s', 'y'), 6n)
  t.is(server.hwm('free'), 6n)
  await c2.close()
  await server.close()
})

test('a permanent ERROR (SUPERSEDED) rejects pending sends and stops the client', async (t) => {
  const server = await setup(t)
  const client = await connect(t, opts(server))
  const errors: Error[] = []
  client.on('error', (e) => errors.push(e))
  server.holdAcks(true)
  const p = client.send('s', 'x')
  await until(() => server.received.length === 1)
  server.sendError(ErrorCode.SUPERSEDED)
  const err = await t.throwsAsync<WireCodedError>(p)
  t.is(err?.wireCode, ErrorCode.SUPERSEDED)
  t.is((await t.throwsAsync<WireCodedError>(client.send('s', 'y')))?.wireCode, ErrorCode.SUPERSEDED)
  t.is(errors.length, 1)
  await client.close()
  await server.close()
})

test('flush resolves when everything sent is settled; close rejects later sends', async (t) => {
  const server = await setup(t)
  const client = await connect(t, opts(server, { window: 8 }))
  const settled: bigint[] = []
  for (let i = 0; i < 50; i++) void client.send('s', `${i}`).then((s) => settled.push(s))
  await client.flush()
  await new Promise((r) => setImmediate(r))
  t.is(settled.length, 50)
  t.is(client.stats.inFlight, 0)
  await client.close()
  const err = await t.throwsAsync(client.send('s', 'late'))
  t.is((err as { code?: string }).code, 'MI_ERR_CLIENT_CLOSED')
  await server.close()
})

test('heartbeat: an idle client PINGs every heartbeat_ms and the server answers', async (t) => {
  const server = await setup(t, { heartbeatMs: 200 }) // 3 × 200 ms of silence ends a session: room for a loaded CI box
  const client = await connect(t, opts(server))
  await until(() => server.pings.length >= 2)
  t.true(client.stats.connected)
  t.is(client.stats.reconnects, 0, 'PONGs keep the connection alive')
  await client.close()
  await server.close()
})

test('reconnect: false fails the client on connection loss', async (t) => {
  const server = await setup(t)
  const client = await connect(t, opts(server, { reconnect: false }))
  server.holdAcks(true)
  const p = client.send('s', 'x')
  await until(() => server.received.length === 1)
  await server.close()
  const err = await t.throwsAsync<WireCodedError>(p)
  t.is(err?.code, 'MI_ERR_CLIENT_CONNECTION')
  await client.close()
})

test('options are validated with MI_ERR_CLIENT_OPT_INVALID', async (t) => {
  await t.throwsAsync(connectClient({ module: 'bad name', auth: { token: 't' } }), {
    code: 'MI_ERR_CLIENT_OPT_INVALID',
  } as never)
  await t.throwsAsync(connectClient({ module: 'm', auth: {} as never }), {
    code: 'MI_ERR_CLIENT_OPT_INVALID',
  } as never)
  await t.throwsAsync(connectClient({ module: 'm', auth: { token: 't' }, window: 0 }), {
    code: 'MI_ERR_CLIENT_OPT_INVALID',
  } as never)
})
