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
    const gate = new TlsAdmission(config.limits.maxConnections, config.limits.maxConnectionsPerIp)
    tlsServer.on('connection', (raw: Socket) => gate.admit(raw))
    tlsServer.on('secureConnection', (socket: TLSSocket) => gate.secured(socket))
    server = tlsServer
  } else {
    server = createNetServer({ noDelay: true }, (socket) => onSocket(socket))
  }
  // No server.maxConnections backstop: Node closes sockets past it silently, and every client past
  // the limit must get ERROR TOO_MANY_CONNECTIONS from the engine (issue 11.13). Sockets still in
  // the TLS handshake are bounded by TlsAdmission instead.
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

/**
 * Bounds TCP sockets that have not finished the TLS handshake, counted per address at accept (not
 * once secured, issue 11.13). An address at `maxConnectionsPerIp` open sockets gets no more (they
 * are destroyed: nothing MIP/1 can be said before TLS). Past `maxConnections` sockets in
 * handshake overall, the newest handshaking socket of the address holding the most is shed, so one
 * host opening raw connections cannot starve other hosts' TLS clients.
 */
class TlsAdmission {
  readonly #max: number
  readonly #perIp: number
  /** Open raw sockets per address: `port → still handshaking?`. */
  readonly #open = new Map<string, Map<number, Socket | null>>()
  #handshaking = 0

  constructor(max: number, perIp: number) {
    this.#max = max
    this.#perIp = perIp
  }

  admit(raw: Socket): void {
    const ip = raw.remoteAddress ?? 'unknown'
    const port = raw.remotePort ?? 0
    let byPort = this.#open.get(ip)
    if (byPort && byPort.size >= this.#perIp) {
      raw.destroy()
      return
    }
    if (!byPort) {
      byPort = new Map()
      this.#open.set(ip, byPort)
    }
    byPort.set(port, raw)
    this.#handshaking++
    raw.once('close', () => {
      const m = this.#open.get(ip)
      if (!m?.has(port)) return
      if (m.get(port) !== null) this.#handshaking--
      m.delete(port)
      if (m.size === 0) this.#open.delete(ip)
    })
    if (this.#handshaking > this.#max) this.#shed()
  }

  secured(socket: TLSSocket): void {
    const m = this.#open.get(socket.remoteAddress ?? 'unknown')
    const port = socket.remotePort ?? 0
    if (m?.get(port)) {
      m.set(port, null)
      this.#handshaking--
    }
  }

  #shed(): void {
    let worst: Map<number, Socket | null> | undefined
    let worstIp = ''
    let most = 0
    for (const [ip, m] of this.#open) {
      let n = 0
      for (const s of m.values()) if (s !== null) n++
      if (n > most) {
        most = n
        worst = m
        worstIp = ip
      }
    }
    if (!worst) return
    let victim: [number, Socket] | undefined
    for (const [port, s] of worst) if (s !== null) victim = [port, s] // insertion order: newest last
    if (!victim) return
    // Forget it now: its 'close' comes later, and the next admit must not pick it again.
    worst.delete(victim[0])
    if (worst.size === 0) this.#open.delete(worstIp)
    this.#handshaking--
    victim[1].destroy()
  }
}
