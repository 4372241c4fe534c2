import { defineSubscriber, type SubscriberContext } from '@module-ingest/subscriber-sdk'
import { type NatsSubscriberConfig, natsConfigSchema } from './config.ts'
import { MI_ERR_NATS_NOT_INITIALIZED } from './errors.ts'
import { NatsForwarder } from './forwarder.ts'

export const version = '0.1.0'

// One forwarder per subscriber instance. The host hands every call of an instance the same
// validated config object (a fresh ctx each time), so that object is the instance's key.
const kForwarders = new WeakMap<object, NatsForwarder>()

function forwarderOf(ctx: SubscriberContext<NatsSubscriberConfig>): NatsForwarder {
  const forwarder = kForwarders.get(ctx.config)
  if (forwarder === undefined) throw new MI_ERR_NATS_NOT_INITIALIZED(ctx.name)
  return forwarder
}

/** The built-in `nats` subscriber: forwards committed records to a JetStream stream. */
export default defineSubscriber<NatsSubscriberConfig>({
  name: 'nats',
  version,
  configSchema: natsConfigSchema,
  async init(ctx) {
    const forwarder = new NatsForwarder(ctx.config, { logger: ctx.logger, metrics: ctx.metrics })
    // A broker that is down at startup fails init (after unavailableWaitMs): the runtime retries
    // init with backoff without spending the batch's attempts, so nothing is dead-lettered.
    try {
      await forwarder.ready(ctx.signal)
    } catch (err) {
      await forwarder.close()
      throw err
    }
    await kForwarders.get(ctx.config)?.close()
    kForwarders.set(ctx.config, forwarder)
  },
  async handle(batch, ctx) {
    await forwarderOf(ctx).publish(batch, ctx.signal)
  },
  async close(ctx) {
    const forwarder = kForwarders.get(ctx.config)
    kForwarders.delete(ctx.config)
    await forwarder?.close()
  },
})
