/**
 * The kv read API on the HTTP listener: present when a `kv` subscriber is enabled. Operator tokens
 * are checked by the engine's live credential set (reloaded on change), so a revoked token stops
 * working at once.
 */
import type { ServerConfig } from '@module-ingest/config'
import type { Engine } from '@module-ingest/engine'
import { createKvReadHandler, type KvHttpHandler, kvStoresFromSubscribers } from '@module-ingest/kv'

export function kvReadHandler(config: ServerConfig, engine: Engine): KvHttpHandler | null {
  const stores = kvStoresFromSubscribers(config.subscribers)
  if (stores.length === 0) return null
  return createKvReadHandler({ stores, verify: (t) => engine.verifyOperator(t) })
}
