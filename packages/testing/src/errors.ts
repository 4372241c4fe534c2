import { createError } from '@module-ingest/errors'

// Binary or service lookups that failed: tests turn these into a loud skip (or a CI failure).
export const MI_ERR_TESTING_BINARY_MISSING = createError<[string, string]>(
  'MI_ERR_TESTING_BINARY_MISSING',
  '%s not found (looked in %s)',
)

export const MI_ERR_TESTING_PROCESS_START = createError<[string, string]>(
  'MI_ERR_TESTING_PROCESS_START',
  '%s did not become ready: %s',
)
