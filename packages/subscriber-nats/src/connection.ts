import { readFileSync } from 'node:fs'
import {
  type Authenticator,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
  nkeyAuthenticator,
} from '@nats-io/transport-node'
import type { NatsSubscriberConfig } from './config.ts'
import { MI_ERR_NATS_CREDENTIALS } from './errors.ts'

function readSecret(file: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(file))
  } catch (err) {
    throw new MI_ERR_NATS_CREDENTIALS(`${what} ${file}`, (err as Error).message, { cause: err })
  }
}

/**
 * Client options from our config. The client reconnects forever (`maxReconnectAttempts: -1`):
 * while it is away, handle() fails each batch after `unavailableWaitMs` and the runtime's backoff
 * keeps the records waiting in the log, so nothing piles up in the client's buffers.
 */
export function connectionOptions(config: NatsSubscriberConfig): NodeConnectionOptions {
  let authenticator: Authenticator | undefined
  if (config.credsFile) {
    // Read per (re)connect, so a rotated .creds file is picked up without a restart.
    const file = config.credsFile
    authenticator = credsAuthenticator(() => readSecret(file, 'creds file'))
  } else if (config.nkeySeedFile) {
    const file = config.nkeySeedFile
    authenticator = nkeyAuthenticator(() => readSecret(file, 'nkey seed file'))
  } else if (config.nkeySeed) {
    authenticator = nkeyAuthenticator(new TextEncoder().encode(config.nkeySeed))
  }
  return {
    servers: config.servers,
    name: config.name ?? `module-ingest:${config.source}`,
    ...(config.user !== undefined ? { user: config.user, pass: config.pass ?? '' } : {}),
    ...(config.token !== undefined ? { token: config.token } : {}),
    ...(authenticator ? { authenticator } : {}),
    ...(config.tls ? { tls: { ...config.tls } } : {}),
    timeout: config.connectTimeoutMs,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: config.reconnectTimeWaitMs,
    // Our own loop retries the first connection (see forwarder.ts), so it can be cancelled.
    waitOnFirstConnect: false,
    // An Error (with a stack) per request costs measurable time at tens of thousands of publishes/s.
    noAsyncTraces: true,
  }
}

export type { NatsConnection }
