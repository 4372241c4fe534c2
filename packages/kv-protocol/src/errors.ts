import { createError } from '@module-ingest/errors'

// The first four are also the codes a rejected transaction's outcome carries.
export const MI_ERR_KV_OP_INVALID = createError<[string]>('MI_ERR_KV_OP_INVALID', 'invalid kv operation: %s')
export const MI_ERR_KV_WRONG_TYPE = createError<[string]>(
  'MI_ERR_KV_WRONG_TYPE',
  'operation against a key holding the wrong type: %s',
)
export const MI_ERR_KV_VALUE_TOO_LARGE = createError<[string]>(
  'MI_ERR_KV_VALUE_TOO_LARGE',
  'kv value too large: %s',
)
export const MI_ERR_KV_TTL_INVALID = createError<[string]>('MI_ERR_KV_TTL_INVALID', 'invalid TTL: %s')
export const MI_ERR_KV_COMMAND_INVALID = createError<[string]>('MI_ERR_KV_COMMAND_INVALID', 'kv command: %s')
export const MI_ERR_KV_REJECTED = createError<[string, string]>(
  'MI_ERR_KV_REJECTED',
  'kv transaction rejected (%s): %s',
)
export const MI_ERR_KV_READ_FAILED = createError<[number, string]>(
  'MI_ERR_KV_READ_FAILED',
  'kv read failed with HTTP %d: %s',
)
