import { createError } from '@module-ingest/errors'

// `serve`: a part of the server could not start; the process exits 1 and accepted no connection.
export const MI_ERR_SERVER_START_FAILED = createError<[string, string]>(
  'MI_ERR_SERVER_START_FAILED',
  'cannot start %s: %s',
)
