import { defineSubscriber, type SubscriberContext } from '@module-ingest/subscriber-sdk'
import { type NatsSubscriberConfig, natsConfigSchema } from './config.ts'
import { MI_ERR_NATS_NOT_INITIALIZED } from './errors.ts'
import { NatsForwarder } from './forwarder.ts'

export const version = '0.1.0'

// One forwarder per subscriber instance. The host hands every call of an instance the same
// validated config object (a fresh ctx each time), so that object is the instance's key.
const kForwarders = new WeakMap<object, NatsForwarder>()
// A forwarder whose init failed (NATS unreachable), kept per instance so that the retried init
// continues its connect loop and backoff instead of starting over (and logging again) each time.
const kWaiting = new Map<string, { key: string; forwarder: NatsForwarder }>()

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
    const key = JSON.stringify(ctx.config)
    const waiting = kWaiting.get(ctx.name)
    kWaiting.delete(ctx.name)
    let forwarder: NatsForwarder
    if (waiting !== undefined && waiting.key === key) forwarder = waiting.forwarder
    else {
      await waiting?.forwarder.close()
      forwarder = new NatsForwarder(ctx.config, { logger: ctx.logger, metrics: ctx.metrics })
    }
    // A broker that is down at startup fails init (after unavailableWaitMs) with
    // MI_ERR_NATS_UNAVAILABLE: the runtime retries init with exponential backoff without spending
    // the batch's attempts, so nothing is dead-lettered.
    try {
      await forwarder.ready(ctx.signal)
    } catch (err) {
      if ((err as { code?: string }).code === 'MI_ERR_NATS_UNAVAILABLE' && !ctx.signal.aborted) {
        kWaiting.set(ctx.name, { key, forwarder })
        // The host shutting down (no close() follows a failed init): stop the waiting connect loop.
        ctx.signal.addEventListener(
          'abort',
          () => {
            if (kWaiting.get(ctx.name)?.forwarder !== forwarder) return
            kWaiting.delete(ctx.name)
            void forwarder.close()
          },
          { once: true },
        )
      } else await forwarder.close()
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
    const waiting = kWaiting.get(ctx.name)
    kWaiting.delete(ctx.name)
    await waiting?.forwarder.close()
  },
})
