/**
 * MIP/1 over TLS against the real engine: token and hmac auth over a TLS listener (raw socket and
 * the client SDK), mutual TLS with the client certificate's identity checked against the HELLO, and
 * certificate renewal without a restart.
 *
 * What a verified client certificate does (packages/auth `verifyHello` with `tlsIdentity`): it is an
 * extra constraint, not a credential. The HELLO must still carry the secret of a credential entry
 * that governs the module, and the module must be the one the certificate names (URI SAN
 * `urn:module-ingest:module:<name>`, else CN, else first DNS SAN); any other module is
 * AUTH_FAILED (`tls-identity`). A certificate the server cannot verify (`requestClientCert` without
 * `requireClientCert`) is ignored: such a client authenticates by token/hmac like one without.
 */
import { mkdir, mkdtemp, rename, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TLSSocket } from 'node:tls'
import { createToken } from '@module-ingest/auth'
import { connect } from '@module-ingest/client'
import { ErrorCode, encodeData } from '@module-ingest/protocol'
import { createTestPki, type IssuedCert, MipSocket, type TestPki } from '@module-ingest/testing'
import anyTest, { type TestFn } from 'ava'
import { startTestServer, type TestServer } from './fixtures/_server.ts'

interface Ctx {
  pki: TestPki
  /** A second CA the server does not trust. */
  rogue: TestPki
  server: IssuedCert
  clients: Record<'cn' | 'uri' | 'rogue', IssuedCert>
}
const test = anyTest as TestFn<Ctx>

const record = (body: string, stream = 'telemetry.tls') => ({ stream, ts: 1_700_000_000_000_000, body })

test.before((t) => {
  const pki = createTestPki()
  const rogue = createTestPki({ caSubject: '/CN=mi-rogue-ca' })
  t.context = {
    pki,
    rogue,
    server: pki.issueServer(),
    clients: {
      cn: pki.issue('client-cn', { subject: '/O=acme/CN=sensor-tls' }),
      uri: pki.issue('client-uri', {
        subject: '/CN=not-this-one',
        san: 'URI:urn:module-ingest:module:sensor-uri,DNS:sensor-dns.example',
      }),
      // Names sensor-tls too, but signed by a CA the server does not trust.
      rogue: rogue.issue('client-rogue', { subject: '/CN=sensor-tls' }),
    },
  }
})
test.after.always((t) => {
  t.context.pki.remove()
  t.context.rogue.remove()
})

interface TlsServer extends TestServer {
  fleetToken: string
  tlsToken: string
  uriToken: string
  /** Key of `hmac-tls` (write:*). */
  hmacKey: Buffer
}

/**
 * A TLS engine with its own credentials: `sensor-*` (fleet token, write:telemetry.*), and exact
 * entries for `sensor-tls` and `sensor-uri` (write:*). The data dir is made here so the entries
 * exist before the server starts (the fixture then leaves the credentials file alone).
 */
async function startTlsServer(
  t: { teardown(fn: () => Promise<void>): void },
  tls: {
    certFile: string
    keyFile: string
    caFile?: string
    requestClientCert?: boolean
    requireClientCert?: boolean
  },
): Promise<TlsServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'mi-engine-tls-'))
  const file = join(dataDir, 'credentials.yaml')
  const token = async (module: string, scopes: string[]) =>
    (await createToken(file, { module, scopes, kind: 'token' })).secret
  const fleetToken = await token('sensor-*', ['write:telemetry.*'])
  const tlsToken = await token('sensor-tls', ['write:*'])
  const uriToken = await token('sensor-uri', ['write:*'])
  const hmacKey = Buffer.from(
    (await createToken(file, { module: 'hmac-tls', scopes: ['write:*'], kind: 'hmac' })).secret,
    'hex',
  )
  const flags: Record<string, unknown> = { 'tls.certFile': tls.certFile, 'tls.keyFile': tls.keyFile }
  if (tls.caFile) flags['tls.caFile'] = tls.caFile
  if (tls.requestClientCert) flags['tls.requestClientCert'] = true
  if (tls.requireClientCert) flags['tls.requireClientCert'] = true
  const s = await startTestServer(flags, dataDir)
  t.teardown(() => s.stop())
  return Object.assign(s, { fleetToken, tlsToken, uriToken, hmacKey })
}

const peerFingerprint = (sock: MipSocket) => (sock.socket as TLSSocket).getPeerCertificate().fingerprint256

async function helloCode(
  port: number,
  hello: Parameters<MipSocket['hello']>[0],
  tls: Parameters<typeof MipSocket.open>[3],
): Promise<number | 'ok'> {
  const sock = await MipSocket.open(port, '127.0.0.1', undefined, tls)
  try {
    await sock.hello(hello)
    return 'ok'
  } catch (err) {
    return (err as { code: number }).code
  } finally {
    sock.close()
  }
}

test('server TLS: token and hmac auth over a raw TLS socket; plain TCP gets no WELCOME', async (t) => {
  const { server, pki } = t.context
  const s = await startTlsServer(t, { certFile: server.certFile, keyFile: server.keyFile })
  const { sock, hwm } = await MipSocket.session(
    s.port,
    { module: 'sensor-1', token: s.fleetToken },
    { ca: pki.ca, servername: 'localhost' },
  )
  t.is(hwm, 0n)
  t.true((sock.socket as TLSSocket).encrypted)
  t.is(peerFingerprint(sock), server.fingerprint256)
  sock.write(encodeData(1n, record('over tls')))
  t.is(await sock.ackFor(1n), 1n)
  sock.close()

  // hmac, with and without per-frame MAC on top of TLS.
  for (const mac of [false, true]) {
    const h = await MipSocket.session(
      s.port,
      { module: 'hmac-tls', hmacKey: s.hmacKey, mac },
      { ca: pki.ca, servername: 'localhost' },
    )
    t.is(h.sock.macKey !== null, mac)
    h.sock.write(encodeData(h.hwm + 1n, record(`hmac mac=${mac}`), h.sock.macKey))
    t.is(await h.sock.ackFor(h.hwm + 1n), h.hwm + 1n)
    h.sock.close()
  }

  // Wrong token over TLS: the same AUTH_FAILED as over TCP.
  t.is(
    await helloCode(
      s.port,
      { module: 'sensor-tls', token: s.fleetToken },
      { ca: pki.ca, servername: 'localhost' },
    ),
    ErrorCode.AUTH_FAILED,
  )

  // A client that does not trust the server's CA never gets as far as MIP/1.
  await t.throwsAsync(MipSocket.open(s.port, '127.0.0.1', undefined, { servername: 'localhost' }), {
    code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  })
  // Plain TCP to the TLS port: no WELCOME in clear text; the TLS layer drops the garbage.
  const plain = await MipSocket.connect(s.port)
  plain.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
  await t.throwsAsync(plain.next(5000), { message: 'connection closed' })
  plain.close()
})

test('server TLS: the client SDK connects with tls: { ca } and sends', async (t) => {
  const { server, pki } = t.context
  const s = await startTlsServer(t, { certFile: server.certFile, keyFile: server.keyFile })
  const client = await connect({
    port: s.port,
    module: 'sensor-sdk',
    auth: { token: s.fleetToken },
    tls: { ca: pki.ca, servername: 'localhost' },
  })
  t.is(await client.send('telemetry.sdk', 'one'), 1n)
  await client.sendBatch([
    { stream: 'telemetry.sdk', body: 'b1' },
    { stream: 'telemetry.sdk', body: 'b2' },
  ])
  const err = await t.throwsAsync(client.send('forbidden.stream', 'nope'))
  t.is((err as unknown as { wireCode: number }).wireCode, ErrorCode.FORBIDDEN)
  await client.close()
})

test('mutual TLS: the certificate names the module the HELLO may claim', async (t) => {
  const { server, pki, clients } = t.context
  const s = await startTlsServer(t, {
    certFile: server.certFile,
    keyFile: server.keyFile,
    caFile: pki.caFile,
    requestClientCert: true,
  })
  const withCert = (c: IssuedCert) => ({ ca: pki.ca, servername: 'localhost', cert: c.cert, key: c.key })
  const noCert = { ca: pki.ca, servername: 'localhost' }

  // CN=sensor-tls + sensor-tls's own token: admitted, and it can write.
  const { sock } = await MipSocket.session(
    s.port,
    { module: 'sensor-tls', token: s.tlsToken },
    withCert(clients.cn),
  )
  sock.write(encodeData(1n, record('mtls', 'any.stream')))
  t.is(await sock.ackFor(1n), 1n)
  sock.close()

  // The same certificate claiming another module, with that module's valid (fleet) secret:
  // AUTH_FAILED (tls-identity). Without a certificate the very same HELLO is admitted.
  t.is(
    await helloCode(s.port, { module: 'sensor-9', token: s.fleetToken }, withCert(clients.cn)),
    ErrorCode.AUTH_FAILED,
  )
  t.is(await helloCode(s.port, { module: 'sensor-9', token: s.fleetToken }, noCert), 'ok')

  // The certificate is not a credential by itself: a wrong or missing secret is still AUTH_FAILED.
  t.is(
    await helloCode(s.port, { module: 'sensor-tls', token: s.uriToken }, withCert(clients.cn)),
    ErrorCode.AUTH_FAILED,
  )
  t.is(await helloCode(s.port, { module: 'sensor-tls' }, withCert(clients.cn)), ErrorCode.AUTH_FAILED)

  // URI SAN wins over CN and DNS SAN.
  t.is(await helloCode(s.port, { module: 'sensor-uri', token: s.uriToken }, withCert(clients.uri)), 'ok')
  t.is(
    await helloCode(s.port, { module: 'sensor-tls', token: s.tlsToken }, withCert(clients.uri)),
    ErrorCode.AUTH_FAILED,
  )

  // A certificate from an untrusted CA is not verified, so it asserts nothing: token auth decides.
  t.is(await helloCode(s.port, { module: 'sensor-9', token: s.fleetToken }, withCert(clients.rogue)), 'ok')
  t.is(await helloCode(s.port, { module: 'sensor-tls', token: s.tlsToken }, withCert(clients.rogue)), 'ok')
})

test('tls.requireClientCert: no valid client certificate, no TLS session', async (t) => {
  const { server, pki, clients } = t.context
  const s = await startTlsServer(t, {
    certFile: server.certFile,
    keyFile: server.keyFile,
    caFile: pki.caFile,
    requireClientCert: true,
  })
  const base = { ca: pki.ca, servername: 'localhost' }
  t.is(
    await helloCode(
      s.port,
      { module: 'sensor-tls', token: s.tlsToken },
      { ...base, cert: clients.cn.cert, key: clients.cn.key },
    ),
    'ok',
  )
  // Without a certificate, or with one from an untrusted CA, the TLS handshake itself fails.
  await t.throwsAsync(helloCode(s.port, { module: 'sensor-9', token: s.fleetToken }, base))
  await t.throwsAsync(
    helloCode(
      s.port,
      { module: 'sensor-9', token: s.fleetToken },
      { ...base, cert: clients.rogue.cert, key: clients.rogue.key },
    ),
  )
})

test('mutual TLS with the client SDK: its certificate admits its own module only', async (t) => {
  const { server, pki, clients } = t.context
  const s = await startTlsServer(t, {
    certFile: server.certFile,
    keyFile: server.keyFile,
    caFile: pki.caFile,
    requestClientCert: true,
  })
  const tls = { ca: pki.ca, servername: 'localhost', cert: clients.cn.cert, key: clients.cn.key }
  const ok = await connect({ port: s.port, module: 'sensor-tls', auth: { token: s.tlsToken }, tls })
  t.is(await ok.send('any.stream', 'x'), 1n)
  await ok.close()
  const err = await t.throwsAsync(
    connect({ port: s.port, module: 'sensor-9', auth: { token: s.fleetToken }, tls, reconnect: false }),
  )
  t.is((err as unknown as { wireCode?: number }).wireCode, ErrorCode.AUTH_FAILED)
})

test('certificate renewal without restart: new connections get the new certificate, old ones go on', async (t) => {
  const { pki } = t.context
  const live = join(pki.dir, 'live')
  await mkdir(live)
  const first = pki.issueServer('renew-1')
  const files = { certFile: join(live, 'tls.crt'), keyFile: join(live, 'tls.key') }
  await writeFile(files.certFile, first.cert)
  await writeFile(files.keyFile, first.key, { mode: 0o600 })
  const s = await startTlsServer(t, files)
  const tls = { ca: pki.ca, servername: 'localhost' }

  const old = await MipSocket.session(s.port, { module: 'sensor-old', token: s.fleetToken }, tls)
  t.is(peerFingerprint(old.sock), first.fingerprint256)
  old.sock.write(encodeData(1n, record('before renewal')))
  t.is(await old.sock.ackFor(1n), 1n)

  // Renew the way certbot & co. do: write aside, then rename over (key first, then certificate).
  const second = pki.issueServer('renew-2')
  t.not(second.fingerprint256, first.fingerprint256)
  await writeFile(`${files.keyFile}.new`, second.key, { mode: 0o600 })
  await writeFile(`${files.certFile}.new`, second.cert)
  await rename(`${files.keyFile}.new`, files.keyFile)
  await rename(`${files.certFile}.new`, files.certFile)

  // Bounded wait for the watcher (debounce 200 ms); new handshakes must then see the new certificate.
  const deadline = Date.now() + 10_000
  let seen = first.fingerprint256
  while (seen !== second.fingerprint256 && Date.now() < deadline) {
    const probe = await MipSocket.open(s.port, '127.0.0.1', undefined, tls)
    seen = peerFingerprint(probe)
    probe.close()
    if (seen !== second.fingerprint256) await new Promise((r) => setTimeout(r, 50))
  }
  t.is(seen, second.fingerprint256)
  const fresh = await MipSocket.session(s.port, { module: 'sensor-new', token: s.fleetToken }, tls)
  t.is(peerFingerprint(fresh.sock), second.fingerprint256)
  fresh.sock.write(encodeData(1n, record('after renewal')))
  t.is(await fresh.sock.ackFor(1n), 1n)
  fresh.sock.close()

  // The connection made before the renewal keeps its session (and its certificate).
  old.sock.write(encodeData(2n, record('still going')))
  t.is(await old.sock.ackFor(2n), 2n)
  t.is(peerFingerprint(old.sock), first.fingerprint256)
  old.sock.close()
})

test('a TCP client that never starts the TLS handshake is dropped by the handshake deadline', async (t) => {
  const { server } = t.context
  // The fixture sets limits.handshakeTimeoutMs to 3000; Node's own TLS default would be 120 s, long
  // enough for one address to hold listener slots for minutes.
  const s = await startTlsServer(t, { certFile: server.certFile, keyFile: server.keyFile })
  const idle = await MipSocket.connect(s.port)
  try {
    await t.notThrowsAsync(idle.closed(10_000))
  } finally {
    idle.close() // else server.close() would wait for it
  }
})
