import { createError } from '@module-ingest/errors'

// Outcome codes of rejected transactions (with those of @module-ingest/kv-protocol) and the
// materializer's own errors.
export const MI_ERR_KV_REVISION_MISMATCH = createError<[string]>(
  'MI_ERR_KV_REVISION_MISMATCH',
  'expected revision does not match: %s',
)
export const MI_ERR_KV_TXN_INCOMPLETE = createError<[string]>(
  'MI_ERR_KV_TXN_INCOMPLETE',
  'transaction incomplete in the log: %s',
)
export const MI_ERR_KV_NOT_OPEN = createError<[string]>(
  'MI_ERR_KV_NOT_OPEN',
  'kv subscriber %s: handle() before init() or after close()',
)
export const MI_ERR_KV_SCHEMA = createError<[string, string]>(
  'MI_ERR_KV_SCHEMA',
  'kv store %s cannot be used: %s',
)
export const MI_ERR_KV_NOT_APPLIED = createError<[string, number]>(
  'MI_ERR_KV_NOT_APPLIED',
  'the kv store has not applied %s within %d ms',
)
