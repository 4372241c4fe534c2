import { defineSubscriber, type SubscriberContext } from '@module-ingest/subscriber-sdk'
import { type S3SubscriberConfig, s3ConfigSchema } from './config.ts'
import { MI_ERR_S3_NOT_INITIALIZED } from './errors.ts'
import { S3Uploader } from './uploader.ts'

export const version = '0.1.0'

// One uploader per subscriber instance and thread. The host hands every call of an instance the
// same validated config object (a fresh ctx each time), so that object is the instance's key.
const kUploaders = new WeakMap<object, S3Uploader>()

function uploaderOf(ctx: SubscriberContext<S3SubscriberConfig>): S3Uploader {
  const uploader = kUploaders.get(ctx.config)
  if (uploader === undefined) throw new MI_ERR_S3_NOT_INITIALIZED(ctx.name)
  return uploader
}

/**
 * The built-in `s3` subscriber: each batch becomes one object per key prefix (stream, hour…),
 * acknowledged by the store before handle() resolves and the runtime commits the offset.
 */
export default defineSubscriber<S3SubscriberConfig>({
  name: 's3',
  version,
  configSchema: s3ConfigSchema,
  // Catch-up encodes as fast as it can: ingest threads win the CPU when both want it.
  nice: 10,
  // …but nice alone leaves ingest's ack p99 at ~×3.6 of ingest alone during a catch-up on two
  // cores (V8's GC helpers at nice 0, and cores are cores): while records are arriving, deliver at
  // most 100 MB/s (the catch-up goal), which took it to ~×2.2 and ingest's main thread's
  // wait for a core down by ~30 %; 50 MB/s bought nothing more. Idle hosts catch up at full speed.
  // README "Catch-up and ingest".
  rateLimit: { bytesPerSec: 100_000_000 },
  init(ctx) {
    // Never fails for the store's sake: offline at boot is normal on an edge host. The first
    // batch (or the background bucket check) reports what is wrong.
    const uploader = new S3Uploader(ctx.config, { logger: ctx.logger, metrics: ctx.metrics })
    kUploaders.get(ctx.config)?.close()
    kUploaders.set(ctx.config, uploader)
    uploader.start()
  },
  async handle(batch, ctx) {
    await uploaderOf(ctx).upload(batch, ctx.signal)
  },
  close(ctx) {
    kUploaders.get(ctx.config)?.close()
    kUploaders.delete(ctx.config)
  },
})
