import { createError } from '@module-ingest/errors'

// `serve`: a part of the server could not start; the process exits 1 and accepted no connection.
export const MI_ERR_SERVER_START_FAILED = createError<[string, string]>(
  'MI_ERR_SERVER_START_FAILED',
  'cannot start %s: %s',
)

// A path the command reads does not exist: a typo in --data-dir/--dir, or nothing written there yet.
export const MI_ERR_CLI_NOT_FOUND = createError<[string, string, string]>(
  'MI_ERR_CLI_NOT_FOUND',
  '%s %s does not exist (%s)',
)
