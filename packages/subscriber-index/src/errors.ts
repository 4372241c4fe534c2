import { createError } from '@module-ingest/errors'

export const MI_ERR_INDEX_NOT_OPEN = createError<[string]>(
  'MI_ERR_INDEX_NOT_OPEN',
  'index subscriber %s: handle() before init() or after close()',
)
export const MI_ERR_INDEX_SCHEMA = createError<[string, string]>(
  'MI_ERR_INDEX_SCHEMA',
  'index file %s: %s (rebuild it with `module-ingest index rebuild`)',
)
export const MI_ERR_INDEX_QUERY_INVALID = createError<[string]>('MI_ERR_INDEX_QUERY_INVALID', '%s')
export const MI_ERR_INDEX_REBUILD = createError<[string]>('MI_ERR_INDEX_REBUILD', 'index rebuild: %s')
