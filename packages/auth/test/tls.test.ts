import { X509Certificate } from 'node:crypto'
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, createServer, type TLSSocket } from 'node:tls'
import { createTestPki } from '@module-ingest/testing'
import test from 'ava'
import {
  identityFromPeerCertificate,
  loadTlsContext,
  type TlsContextOptions,
  watchTls,
} from '../src/internal.ts'

// A throwaway CA, a server certificate and client certificates (the shared test PKI).
const pki = createTestPki({ caSubject: '/CN=mi-test-ca' })
test.after.always(() => pki.remove())
const p = (name: string) => join(pki.dir, name)
const issue = (name: string, subject: string, san?: string) =>
  pki.issue(name, { subject, ...(san ? { san } : {}) })

issue('server', '/CN=localhost', 'DNS:localhost,IP:127.0.0.1')
issue('server2', '/CN=localhost', 'DNS:localhost,IP:127.0.0.1')
issue('client-uri', '/O=acme/CN=sensor-cn', 'URI:urn:module-ingest:module:sensor-uri,DNS:sensor-dns.example')
issue('client-cn', '/CN=sensor-cn')
issue('client-dns', '/CN=not a module name', 'DNS:sensor-dns.example')
issue('client-none', '/CN=bad name!', 'email:x@example.com')

const x509 = (name: string) => new X509Certificate(readFileSync(p(`${name}.crt`)))

test('identity from an X509Certificate: URI SAN, then CN, then DNS SAN, else null', (t) => {
  t.is(identityFromPeerCertificate(x509('client-uri')), 'sensor-uri')
  t.is(identityFromPeerCertificate(x509('client-cn')), 'sensor-cn')
  t.is(identityFromPeerCertificate(x509('client-dns')), 'sensor-dns.example')
  t.is(identityFromPeerCertificate(x509('client-none')), null)
  t.is(identityFromPeerCertificate(null), null)
  t.is(identityFromPeerCertificate({ subject: { CN: ['a', 'b'] }, subjectaltname: '' } as never), null)
})

test('loadTlsContext: options a TLS server accepts; mismatched key is refused', async (t) => {
  const ctx = await loadTlsContext({
    certFile: p('server.crt'),
    keyFile: p('server.key'),
    caFile: p('ca.crt'),
    requestClientCert: true,
  })
  t.true(ctx.requestCert)
  t.false(ctx.rejectUnauthorized)
  t.truthy(ctx.ca)
  const strict = await loadTlsContext({
    certFile: p('server.crt'),
    keyFile: p('server.key'),
    requireClientCert: true,
  })
  t.true(strict.requestCert && strict.rejectUnauthorized)
  await t.throwsAsync(loadTlsContext({ certFile: p('server.crt'), keyFile: p('server2.key') }), {
    code: 'MI_ERR_AUTH_TLS_INVALID',
  })
  await t.throwsAsync(loadTlsContext({ certFile: p('missing.crt'), keyFile: p('server.key') }), {
    code: 'MI_ERR_AUTH_TLS_INVALID',
  })
})

test('over a real loopback TLS connection: peer certificate → module name', async (t) => {
  const ctx = await loadTlsContext({
    certFile: p('server.crt'),
    keyFile: p('server.key'),
    caFile: p('ca.crt'),
    requestClientCert: true,
  })
  const seen: Array<string | null> = []
  const server = createServer(ctx, (socket: TLSSocket) => {
    seen.push(socket.authorized ? identityFromPeerCertificate(socket.getPeerCertificate()) : null)
    socket.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const { port } = server.address() as { port: number }
  for (const name of ['client-uri', 'client-cn', 'client-dns']) {
    await new Promise<void>((resolve, reject) => {
      const s = connect({
        port,
        host: '127.0.0.1',
        ca: readFileSync(p('ca.crt')),
        cert: readFileSync(p(`${name}.crt`)),
        key: readFileSync(p(`${name}.key`)),
      })
      s.on('error', reject)
      s.on('close', () => resolve())
      s.resume()
    })
  }
  t.deepEqual(seen, ['sensor-uri', 'sensor-cn', 'sensor-dns.example'])
})

test('watchTls: a renewed certificate is reloaded; a broken one keeps the old and reports', async (t) => {
  const wdir = mkdtempSync(join(tmpdir(), 'mi-auth-tlsw-'))
  t.teardown(() => rmSync(wdir, { recursive: true, force: true }))
  const files = { certFile: join(wdir, 'tls.crt'), keyFile: join(wdir, 'tls.key') }
  copyFileSync(p('server.crt'), files.certFile)
  copyFileSync(p('server.key'), files.keyFile)
  let onReload: (o: TlsContextOptions) => void = () => t.fail('unexpected reload')
  let onError: (e: Error) => void = () => {}
  const w = watchTls(
    files,
    (o) => onReload(o),
    (e) => onError(e),
    { debounceMs: 30 },
  )
  t.teardown(() => w.close())

  const failed = new Promise<Error>((resolve) => {
    onError = resolve
  })
  writeFileSync(files.keyFile, readFileSync(p('server2.key'))) // key no longer matches the cert
  t.is(((await failed) as Error & { code: string }).code, 'MI_ERR_AUTH_TLS_INVALID')

  const reloaded = new Promise<TlsContextOptions>((resolve) => {
    onReload = resolve
  })
  copyFileSync(p('server2.crt'), join(wdir, 'tls.crt.tmp'))
  renameSync(join(wdir, 'tls.crt.tmp'), files.certFile)
  const next = await reloaded
  t.deepEqual(next.cert, readFileSync(p('server2.crt')))
})
