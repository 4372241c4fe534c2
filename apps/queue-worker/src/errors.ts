import { createError } from '@module-ingest/errors'

export const MI_ERR_QUEUE_WORKER_ARG_INVALID = createError<[string, string]>(
  'MI_ERR_QUEUE_WORKER_ARG_INVALID',
  'invalid %s: %s',
)
