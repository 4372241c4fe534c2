import type { ConnectionOptions } from 'node:tls'
import { isValidCoreName, isValidModuleName } from '@module-ingest/protocol'
import { MI_ERR_CLIENT_OPT_INVALID } from './errors.ts'

/** pino-compatible subset; every method optional. */
export interface Logger {
  debug?(obj: object, msg?: string): void
  info?(obj: object, msg?: string): void
  warn?(obj: object, msg?: string): void
  error?(obj: object, msg?: string): void
}

export interface ReconnectOptions {
  /** First retry delay; default 100 ms. */
  initialDelayMs?: number
  /** Cap on the delay; default 10 000 ms. */
  maxDelayMs?: number
  /** Growth per consecutive failure; default 2. */
  factor?: number
  /** Consecutive failed attempts before giving up (connect() rejects / client fails); default Infinity. */
  maxAttempts?: number
}

export interface ConnectOptions {
  host?: string
  port?: number
  module: string
  core?: string
  auth: { token: string } | { hmacKey: Uint8Array | string }
  /** Hardware fingerprint, sent in HELLO. */
  fingerprint?: string
  /** Ask for per-frame MAC (hmac auth only). Default: true for hmac auth without TLS, else false. */
  mac?: boolean
  tls?: ConnectionOptions | true
  /** Max unsettled frames (sent or queued); send() waits beyond it. Default 1024. */
  window?: number
  /** false disables reconnecting: any connection loss then fails the client. */
  reconnect?: ReconnectOptions | false
  /** Deadline for WELCOME + HELLO_OK per attempt; default 10 000 ms. */
  handshakeTimeoutMs?: number
  /**
   * Deadline for connect() to reach its first HELLO_OK, across reconnect attempts; past it connect()
   * rejects with MI_ERR_CLIENT_CONNECT_TIMEOUT naming the last problem. Default: none (retry until
   * reconnect.maxAttempts). Only the first session: later losses are resumed as before.
   */
  connectTimeoutMs?: number
  /** Sent in HELLO `client`. */
  clientName?: string
  logger?: Logger
}

export interface ResolvedOptions {
  host: string
  port: number
  module: string
  core: string | undefined
  token: string | undefined
  hmacKey: Uint8Array | undefined
  fingerprint: string | undefined
  mac: boolean
  tls: ConnectionOptions | undefined
  window: number
  reconnect: Required<ReconnectOptions> | false
  handshakeTimeoutMs: number
  connectTimeoutMs: number | undefined
  clientName: string
  logger: Logger
}

const posInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0

function keyBytes(key: Uint8Array | string): Uint8Array {
  if (key instanceof Uint8Array) return key
  if (typeof key === 'string' && /^([0-9a-fA-F]{2})+$/.test(key)) return Buffer.from(key, 'hex')
  if (typeof key === 'string' && key.length > 0) return Buffer.from(key, 'base64')
  throw new MI_ERR_CLIENT_OPT_INVALID('options.auth.hmacKey', 'a Uint8Array, hex or base64 string')
}

export function resolveOptions(o: ConnectOptions): ResolvedOptions {
  if (o === null || typeof o !== 'object') throw new MI_ERR_CLIENT_OPT_INVALID('options', 'an object')
  if (!isValidModuleName(o.module))
    throw new MI_ERR_CLIENT_OPT_INVALID('options.module', '1..128 of [A-Za-z0-9._:-]')
  if (o.core !== undefined && !isValidCoreName(o.core)) {
    throw new MI_ERR_CLIENT_OPT_INVALID('options.core', '1..128 of [A-Za-z0-9._:-]')
  }
  const port = o.port ?? 7411
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new MI_ERR_CLIENT_OPT_INVALID('options.port', 'a port')
  const auth = o.auth as { token?: unknown; hmacKey?: Uint8Array | string } | undefined
  let token: string | undefined
  let hmacKey: Uint8Array | undefined
  if (auth && typeof auth.token === 'string' && auth.token.length > 0) token = auth.token
  else if (auth && auth.hmacKey !== undefined) hmacKey = keyBytes(auth.hmacKey)
  else throw new MI_ERR_CLIENT_OPT_INVALID('options.auth', '{ token } or { hmacKey }')
  const window = o.window ?? 1024
  if (!posInt(window)) throw new MI_ERR_CLIENT_OPT_INVALID('options.window', 'a positive integer')
  const handshakeTimeoutMs = o.handshakeTimeoutMs ?? 10_000
  if (!posInt(handshakeTimeoutMs))
    throw new MI_ERR_CLIENT_OPT_INVALID('options.handshakeTimeoutMs', 'a positive integer')
  const connectTimeoutMs = o.connectTimeoutMs
  if (connectTimeoutMs !== undefined && !posInt(connectTimeoutMs))
    throw new MI_ERR_CLIENT_OPT_INVALID('options.connectTimeoutMs', 'a positive integer')
  const tls = o.tls === true ? {} : o.tls
  let reconnect: Required<ReconnectOptions> | false = false
  if (o.reconnect !== false) {
    const r = o.reconnect ?? {}
    reconnect = {
      initialDelayMs: r.initialDelayMs ?? 100,
      maxDelayMs: r.maxDelayMs ?? 10_000,
      factor: r.factor ?? 2,
      maxAttempts: r.maxAttempts ?? Number.POSITIVE_INFINITY,
    }
    if (!(reconnect.initialDelayMs >= 0))
      throw new MI_ERR_CLIENT_OPT_INVALID('options.reconnect.initialDelayMs', '≥ 0')
    if (!(reconnect.maxDelayMs >= reconnect.initialDelayMs)) {
      throw new MI_ERR_CLIENT_OPT_INVALID('options.reconnect.maxDelayMs', '≥ initialDelayMs')
    }
    if (!(reconnect.factor >= 1)) throw new MI_ERR_CLIENT_OPT_INVALID('options.reconnect.factor', '≥ 1')
    if (!(reconnect.maxAttempts >= 1))
      throw new MI_ERR_CLIENT_OPT_INVALID('options.reconnect.maxAttempts', '≥ 1')
  }
  return {
    host: o.host ?? '127.0.0.1',
    port,
    module: o.module,
    core: o.core,
    token,
    hmacKey,
    fingerprint: o.fingerprint,
    mac: hmacKey !== undefined && (o.mac ?? tls === undefined),
    tls,
    window,
    reconnect,
    handshakeTimeoutMs,
    connectTimeoutMs,
    clientName: o.clientName ?? '@module-ingest/client/0.1',
    logger: o.logger ?? {},
  }
}
