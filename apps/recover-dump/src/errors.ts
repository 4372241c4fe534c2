import { createError } from '@module-ingest/errors'

// One table for the app (STYLE §4). Exit codes are derived from these in program.ts.

/** A flag is missing, malformed or conflicts with another. */
export const MI_ERR_RECOVER_USAGE = createError<[string]>('MI_ERR_RECOVER_USAGE', '%s')
/** The directory holds no log (no segment files, or it does not exist). */
export const MI_ERR_RECOVER_NO_LOG = createError<[string]>(
  'MI_ERR_RECOVER_NO_LOG',
  'no log at %s (expected a directory of <base>.seg files; use --data-dir for the server data dir)',
)
/** repair refuses while a live process holds writer.pid. */
export const MI_ERR_RECOVER_LOCKED = createError<[string, number]>(
  'MI_ERR_RECOVER_LOCKED',
  'log %s is held by a live writer (pid %d): stop the server first',
)
