/**
 * The kv read API on the HTTP listener: present when a `kv` subscriber is enabled. Operator tokens
 * are checked by the engine's live credential set (reloaded on change), so a revoked token stops
 * working at once.
 */
import type { ServerConfig } from '@module-ingest/config'
import type { Engine } from '@module-ingest/engine'
import { createKvReadHandler, type KvHttpHandler } from '@module-ingest/kv'
import { instancesOf } from './plugins.ts'

export function kvReadHandler(config: ServerConfig, engine: Engine): KvHttpHandler | null {
  const stores = instancesOf(config.subscribers, 'kv')
  if (stores.length === 0) return null
  return createKvReadHandler({ stores, verify: (t) => engine.verifyOperator(t) })
}
