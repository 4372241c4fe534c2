/**
 * Connection limits (issue 11.13): every client past the global limit gets ERROR
 * TOO_MANY_CONNECTIONS (no silent close), and over TLS the per-address limit counts sockets at
 * accept, so one host holding raw TCP connections without a ClientHello cannot lock others out.
 */
import { connect as netConnect, type Socket } from 'node:net'
import { FrameType } from '@module-ingest/protocol'
import { createTestPki, MipSocket } from '@module-ingest/testing'
import test from 'ava'
import { startTestServer } from './fixtures/_server.ts'

test('past the global limit every refused client gets ERROR TOO_MANY_CONNECTIONS', async (t) => {
  const s = await startTestServer({ 'limits.maxConnections': 10, 'limits.handshakeTimeoutMs': 60_000 })
  t.teardown(() => s.stop())
  // Clients that keep their end open after the server's FIN (as slow or hostile ones do): the
  // refused sockets linger, and many are open at once.
  const sockets: Socket[] = []
  const firsts = await Promise.all(
    Array.from(
      { length: 150 },
      () =>
        new Promise<string>((resolve) => {
          const sock = netConnect({ port: s.port, host: '127.0.0.1', allowHalfOpen: true })
          sockets.push(sock)
          sock.on('error', () => {})
          sock.once('data', (d: Buffer) => resolve(d[3] === FrameType.WELCOME ? 'welcome' : `type ${d[3]}`))
          sock.once('close', () => resolve('closed without a word'))
          setTimeout(() => resolve('nothing'), 30_000).unref()
        }),
    ),
  )
  t.teardown(() => {
    for (const sock of sockets) sock.destroy()
  })
  const count = (what: string) => firsts.filter((f) => f === what).length
  t.is(count('welcome'), 10)
  t.is(
    count(`type ${FrameType.ERROR}`),
    140,
    JSON.stringify(firsts.filter((f) => f !== 'welcome').slice(0, 5)),
  )
})

test('TLS: raw sockets from one address count at accept; other hosts still get in', async (t) => {
  const pki = createTestPki()
  t.teardown(() => pki.remove())
  const cert = pki.issueServer()
  const s = await startTestServer({
    'tls.certFile': cert.certFile,
    'tls.keyFile': cert.keyFile,
    'limits.maxConnections': 20,
    'limits.maxConnectionsPerIp': 5,
    'limits.handshakeTimeoutMs': 60_000,
  })
  t.teardown(() => s.stop())
  // Host A opens 120 TCP connections and never sends a ClientHello.
  const raw: Socket[] = []
  await Promise.all(
    Array.from(
      { length: 120 },
      () =>
        new Promise<void>((resolve) => {
          const sock = netConnect({ port: s.port, host: '127.0.0.1', localAddress: '127.0.0.2' })
          sock.on('error', () => {})
          sock.once('connect', () => resolve())
          sock.once('close', () => resolve())
          raw.push(sock)
        }),
    ),
  )
  t.teardown(() => {
    for (const sock of raw) sock.destroy()
  })
  // Host B's TLS clients are all served.
  for (let i = 0; i < 5; i++) {
    const sock = await MipSocket.open(s.port, '127.0.0.1', '127.0.0.3', {
      ca: pki.ca,
      servername: 'localhost',
    })
    t.truthy(sock.welcome)
    sock.close()
  }
})
