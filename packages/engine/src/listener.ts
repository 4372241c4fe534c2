/**
 * The MIP/1 listener: plain TCP, or TLS with certificate reload and client-certificate identity.
 * Hands every accepted (and, with TLS, secured) socket to `onSocket`.
 */
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net'
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'
import { identityFromPeerCertificate, loadTlsContext, watchTls } from '@module-ingest/auth'
import type { ServerConfig } from '@module-ingest/config'
import type { Logger } from '@module-ingest/telemetry'

/** TLS 1.3 suites, then TLS 1.2 ECDHE key exchange with AEAD ciphers only (`tls.ciphers` unset). */
export const DEFAULT_TLS_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':')

export interface Listener {
  readonly server: NetServer
  /** Stop accepting; resolves once every accepted socket has closed. */
  close(): Promise<void>
}

export async function listen(
  config: ServerConfig,
  logger: Logger,
  onSocket: (socket: Socket, tlsIdentity?: string) => void,
): Promise<Listener> {
  const { host, port } = config.listen
  let server: NetServer
  let stopWatching = () => {}
  if (config.tls) {
    // The MIP/1 handshake timer starts only after TLS, and the per-address connection cap only
    // counts secured sockets: without this bound (Node's default is 120 s) a client that opens TCP
    // and never speaks TLS would hold a listener slot, and block close(), for two minutes. Node
    // only reports the timeout (tlsClientError below); it does not close the socket itself.
    // Forward-secret AEAD suites only on TLS 1.2 (no static-RSA key exchange); TLS ≥ 1.2.
    const cipherOptions = {
      ciphers: config.tls.ciphers ?? DEFAULT_TLS_CIPHERS,
      honorCipherOrder: true,
      minVersion: 'TLSv1.2',
    } as const
    const tlsServer = createTlsServer({
      ...(await loadTlsContext(config.tls)),
      ...cipherOptions,
      handshakeTimeout: config.limits.handshakeTimeoutMs,
    })
    // New certificates apply to new handshakes; live sessions keep the context they started with.
    const watcher = watchTls(
      config.tls,
      (ctx) => {
        tlsServer.setSecureContext({ ...ctx, ...cipherOptions })
        logger.info({ event: 'TlsCertificateReloaded' }, 'TLS certificate reloaded')
      },
      (err) =>
        logger.error(
          { event: 'TlsCertificateReloadError', err: err.message },
          'TLS certificate not reloaded',
        ),
    )
    stopWatching = () => watcher.close()
    tlsServer.on('secureConnection', (socket: TLSSocket) => {
      const cert = socket.authorized ? socket.getPeerCertificate() : null
      onSocket(socket, cert ? (identityFromPeerCertificate(cert) ?? undefined) : undefined)
    })
    tlsServer.on('tlsClientError', (_err, socket) => socket.destroy())
    server = tlsServer
  } else {
    server = createNetServer({ noDelay: true }, (socket) => onSocket(socket))
  }
  // The engine's own limit answers with ERROR TOO_MANY_CONNECTIONS; this is only a backstop.
  server.maxConnections = config.limits.maxConnections + 64
  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen({ host, port, backlog: 4096 }, () => ok())
  })
  return {
    server,
    close: () => {
      stopWatching()
      return new Promise<void>((r) => server.close(() => r()))
    },
  }
}
