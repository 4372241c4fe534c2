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
  init(ctx) {
    const forwarder = new NatsForwarder(ctx.config, { logger: ctx.logger, metrics: ctx.metrics })
    kForwarders.set(ctx.config, forwarder)
    // Connect in the background: a broker that is down at startup must not fail init; handle()
    // fails its batches (bounded wait) until the connection is up, and the runtime backs off.
    forwarder.start()
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
