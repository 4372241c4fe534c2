import { createError } from '@module-ingest/errors'

// Availability: handle() throws these so the runtime retries the batch with backoff.
export const MI_ERR_NATS_UNAVAILABLE = createError<[string, number, string]>(
  'MI_ERR_NATS_UNAVAILABLE',
  'NATS at %s not usable after waiting %d ms: %s',
)
export const MI_ERR_NATS_PUBLISH_FAILED = createError<[number, number, string, string]>(
  'MI_ERR_NATS_PUBLISH_FAILED',
  '%d of %d records were not acknowledged by JetStream (stream %s): %s',
)
export const MI_ERR_NATS_STREAM_SETUP = createError<[string, string]>(
  'MI_ERR_NATS_STREAM_SETUP',
  'could not ensure JetStream stream %s: %s',
)

// Lifecycle and configuration.
export const MI_ERR_NATS_CLOSED = createError<[]>('MI_ERR_NATS_CLOSED', 'the nats subscriber is closed')
export const MI_ERR_NATS_NOT_INITIALIZED = createError<[string]>(
  'MI_ERR_NATS_NOT_INITIALIZED',
  'the nats subscriber %s was used before init()',
)
export const MI_ERR_NATS_CREDENTIALS = createError<[string, string]>(
  'MI_ERR_NATS_CREDENTIALS',
  'cannot read NATS credentials from %s: %s',
)
