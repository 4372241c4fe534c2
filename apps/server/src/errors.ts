import { createError } from '@module-ingest/errors'

// A path the command reads does not exist: a typo in --data-dir/--dir, or nothing written there yet.
export const MI_ERR_CLI_NOT_FOUND = createError<[string, string, string]>(
  'MI_ERR_CLI_NOT_FOUND',
  '%s %s does not exist (%s)',
)
