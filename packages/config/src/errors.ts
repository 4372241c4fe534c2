import { createError } from '@module-ingest/errors'

export const MI_ERR_CONFIG_INVALID = createError<[string]>('MI_ERR_CONFIG_INVALID', '%s')
export const MI_ERR_CONFIG_FILE_READ = createError<[string, string]>(
  'MI_ERR_CONFIG_FILE_READ',
  'config error: cannot read config file %s: %s',
)
export const MI_ERR_CONFIG_FILE_PARSE = createError<[string, string]>(
  'MI_ERR_CONFIG_FILE_PARSE',
  'config error: cannot parse config file %s: %s',
)
export const MI_ERR_CONFIG_FILE_TYPE = createError<[string]>(
  'MI_ERR_CONFIG_FILE_TYPE',
  'config error: config file %s: use .yaml, .yml or .json',
)
