import { createError } from '@module-ingest/errors'

// Options: thrown by startSubscribers() before anything starts.
export const MI_ERR_SUBSCRIBER_OPT_INVALID = createError<[string, string]>(
  'MI_ERR_SUBSCRIBER_OPT_INVALID',
  'invalid subscriber option %s: %s',
  TypeError,
)
export const MI_ERR_SUBSCRIBER_DUPLICATE = createError<[string]>(
  'MI_ERR_SUBSCRIBER_DUPLICATE',
  'two subscribers are named %s',
)
export const MI_ERR_SUBSCRIBER_UNKNOWN = createError<[string]>(
  'MI_ERR_SUBSCRIBER_UNKNOWN',
  'no running subscriber is named %s',
)

// Plugin loading (main thread, before a worker starts; the SDK owns the other MI_ERR_PLUGIN_* codes).
export const MI_ERR_PLUGIN_NOT_FOUND = createError<[string, string]>(
  'MI_ERR_PLUGIN_NOT_FOUND',
  'cannot load subscriber plugin %s: %s',
)

// Batch delivery failures, as reported in stats, logs and dead letters.
export const MI_ERR_SUBSCRIBER_HANDLE_FAILED = createError<[string, string]>(
  'MI_ERR_SUBSCRIBER_HANDLE_FAILED',
  'subscriber %s: handle() failed: %s',
)
export const MI_ERR_SUBSCRIBER_INIT_FAILED = createError<[string, string]>(
  'MI_ERR_SUBSCRIBER_INIT_FAILED',
  'subscriber %s: init() failed: %s',
)
export const MI_ERR_SUBSCRIBER_TIMEOUT = createError<[string, number]>(
  'MI_ERR_SUBSCRIBER_TIMEOUT',
  'subscriber %s: batch not handled within %d ms; its worker was replaced',
)
export const MI_ERR_SUBSCRIBER_WORKER_EXITED = createError<[string, string]>(
  'MI_ERR_SUBSCRIBER_WORKER_EXITED',
  'subscriber %s: worker exited while handling a batch (%s); it was replaced',
)
export const MI_ERR_SUBSCRIBER_WORKER_OOM = createError<[string, string]>(
  'MI_ERR_SUBSCRIBER_WORKER_OOM',
  'subscriber %s: worker ran out of memory (%s); it was replaced',
)
export const MI_ERR_SUBSCRIBER_THREAD_EXITED = createError<[number, string]>(
  'MI_ERR_SUBSCRIBER_THREAD_EXITED',
  'the subscriber runtime thread exited (code %d): %s',
)
export const MI_ERR_SUBSCRIBER_EMIT_FAILED = createError<[string, string]>(
  'MI_ERR_SUBSCRIBER_EMIT_FAILED',
  'subscriber %s: the host could not append emitted records: %s',
)
