/**
 * The kv read API on the HTTP listener: present when a `kv` subscriber is enabled. Operator tokens
 * are checked against the credentials file, watched so that a revoked token stops working at once.
 */
import { resolve } from 'node:path'
import { CredentialStore } from '@module-ingest/auth'
import type { ServerConfig } from '@module-ingest/config'
import { createKvReadHandler, type KvHttpHandler, kvStoresFromSubscribers } from '@module-ingest/kv'
import type { Logger } from '@module-ingest/telemetry'

export async function kvReadHandler(config: ServerConfig, logger: Logger): Promise<KvHttpHandler | null> {
  const stores = kvStoresFromSubscribers(config.subscribers)
  if (stores.length === 0) return null
  const credentials = await CredentialStore.load(resolve(config.credentialsFile))
  credentials.watch(undefined, (err) =>
    logger.error(
      { event: 'AuthCredentialsReloadError', err: err.message },
      'kv reads: credentials not reloaded',
    ),
  )
  const handler = createKvReadHandler({ stores, verify: (t) => credentials.verifyOperator(t) })
  return Object.assign(handler, {
    async close() {
      credentials.close()
      await handler.close()
    },
  })
}
