import { createError } from '@module-ingest/errors'

// One table for the package (STYLE §4). Codes are the contract; messages are printf templates.

/** The writer cannot make data durable right now (ENOSPC, EIO, …). The engine maps it to MIP/1 OVERLOADED. */
export const MI_ERR_LOG_UNAVAILABLE = createError<[string]>(
  'MI_ERR_LOG_UNAVAILABLE',
  'log cannot make data durable: %s',
)
/** A CRC or structure check failed inside data that was durable: the segment and byte offset are named. */
export const MI_ERR_LOG_CORRUPT = createError<[string, number, string]>(
  'MI_ERR_LOG_CORRUPT',
  'log segment %s is corrupt at offset %d: %s',
)
/** An option failed validation; the option path is named. */
export const MI_ERR_LOG_OPTION_INVALID = createError<[string, string]>(
  'MI_ERR_LOG_OPTION_INVALID',
  'options.%s %s',
)
/** append() got an entry it cannot store (bad name, empty batch, non-bigint seq, …). */
export const MI_ERR_LOG_APPEND_INVALID = createError<[string]>(
  'MI_ERR_LOG_APPEND_INVALID',
  'invalid append: %s',
)
/** The log or reader was closed. */
export const MI_ERR_LOG_CLOSED = createError<[string]>('MI_ERR_LOG_CLOSED', '%s is closed')
/** Another live writer holds the directory. */
export const MI_ERR_LOG_LOCKED = createError<[string, number]>(
  'MI_ERR_LOG_LOCKED',
  'log directory %s is owned by a live writer (pid %d)',
)
/** The directory does not hold a log this version understands. */
export const MI_ERR_LOG_FORMAT = createError<[string]>('MI_ERR_LOG_FORMAT', 'unsupported log format: %s')
/** A consumer group name is not [A-Za-z0-9._-]{1,128}. */
export const MI_ERR_LOG_GROUP_INVALID = createError<[string]>(
  'MI_ERR_LOG_GROUP_INVALID',
  'invalid consumer group name %s',
)
/**
 * The catalog (stream/module/core names) is missing or unreadable and the segments cannot rebuild
 * it. Nothing was changed: restoring the file brings the data back.
 */
export const MI_ERR_LOG_CATALOG_MISSING = createError<[string, string, string, string, string]>(
  'MI_ERR_LOG_CATALOG_MISSING',
  'log directory %s: the catalog file is %s and cannot be rebuilt from the segments (%s). ' +
    'Nothing was changed: restore %s/catalog from a backup, then run `module-ingest-recover-dump verify --log-dir %s`',
)
/** openLog failed on a file-system call (ENOSPC, EACCES, EIO, …): the step, file and errno are named. */
export const MI_ERR_LOG_OPEN_FAILED = createError<[string, string]>(
  'MI_ERR_LOG_OPEN_FAILED',
  'cannot open log directory %s: %s',
)
