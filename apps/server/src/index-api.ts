import type { SubscriberConfig } from '@module-ingest/config'
import type { Engine } from '@module-ingest/engine'

/**
 * The query API of the `index` subscribers (packages/subscriber-index), mounted on the HTTP
 * listener. Loaded only when an index subscriber is configured, so a server without one never
 * imports the package.
 */
export async function indexQueryApi(subscribers: SubscriberConfig[], engine: Engine) {
  if (!subscribers.some((s) => s.use === 'index' || s.use === '@module-ingest/subscriber-index')) return null
  const { createIndexQueryHandler, indexesFromSubscribers } = await import('@module-ingest/subscriber-index')
  const indexes = indexesFromSubscribers(subscribers)
  if (indexes.length === 0) return null
  return createIndexQueryHandler({ indexes, logDir: engine.logDir, verify: (t) => engine.verifyOperator(t) })
}
