import type { SubscriberConfig } from '@module-ingest/config'
import type { Engine } from '@module-ingest/engine'
import { instancesOf } from './plugins.ts'

/**
 * The query API of the `index` subscribers (packages/subscriber-index), mounted on the HTTP
 * listener. Loaded only when an index subscriber is enabled, so a server without one never
 * imports the package.
 */
export async function indexQueryApi(subscribers: SubscriberConfig[], engine: Engine) {
  const indexes = instancesOf(subscribers, 'index')
  if (indexes.length === 0) return null
  const { createIndexQueryHandler } = await import('@module-ingest/subscriber-index')
  return createIndexQueryHandler({ indexes, logDir: engine.logDir, verify: (t) => engine.verifyOperator(t) })
}
