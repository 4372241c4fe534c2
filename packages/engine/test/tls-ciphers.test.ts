/**
 * TLS 1.2 is restricted to forward-secret AEAD suites by default (issue 11.14): a client offering
 * only static-RSA key exchange is refused; an ECDHE-AEAD one, and TLS 1.3, are served.
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type TLSSocket } from 'node:tls'
import test from 'ava'
import { startTestServer } from './fixtures/_server.ts'

function handshake(port: number, ca: Buffer, opts: { ciphers?: string; maxVersion?: 'TLSv1.2' | 'TLSv1.3' }) {
  return new Promise<string>((resolve) => {
    const socket: TLSSocket = connect({ port, host: '127.0.0.1', servername: 'localhost', ca, ...opts })
    socket.once('secureConnect', () => {
      const name = socket.getCipher().name
      socket.destroy()
      resolve(name)
    })
    socket.once('error', () => resolve('refused'))
  })
}

test('static RSA key exchange is refused on TLS 1.2; ECDHE+AEAD and TLS 1.3 work', async (t) => {
  // An RSA certificate (the shared test PKI is EC, where static RSA is impossible anyway).
  const dir = await mkdtemp(join(tmpdir(), 'mi-tls-rsa-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const certFile = join(dir, 'server.crt')
  const keyFile = join(dir, 'server.key')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
    ].concat(['-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost']),
    { stdio: 'pipe' },
  )
  const s = await startTestServer({
    'tls.certFile': certFile,
    'tls.keyFile': keyFile,
    'limits.handshakeTimeoutMs': 30_000,
  })
  t.teardown(() => s.stop())
  const ca = await readFile(certFile)
  t.is(await handshake(s.port, ca, { ciphers: 'AES256-GCM-SHA384', maxVersion: 'TLSv1.2' }), 'refused')
  t.is(await handshake(s.port, ca, { ciphers: 'AES128-SHA', maxVersion: 'TLSv1.2' }), 'refused')
  t.is(await handshake(s.port, ca, { ciphers: 'ECDHE-RSA-AES128-SHA', maxVersion: 'TLSv1.2' }), 'refused')
  t.is(
    await handshake(s.port, ca, { ciphers: 'ECDHE-RSA-AES128-GCM-SHA256', maxVersion: 'TLSv1.2' }),
    'ECDHE-RSA-AES128-GCM-SHA256',
  )
  t.regex(await handshake(s.port, ca, {}), /^TLS_/)
})
