import { createError } from '@module-ingest/errors'

export const MI_ERR_DISK_ARCHIVE_CORRUPT = createError<[string, number, string]>(
  'MI_ERR_DISK_ARCHIVE_CORRUPT',
  'archive file %s is corrupt at offset %d: %s',
)
export const MI_ERR_DISK_NOT_OPEN = createError<[string]>(
  'MI_ERR_DISK_NOT_OPEN',
  'disk subscriber %s: handle() before init() or after close()',
)
export const MI_ERR_DISK_CLI_ARGS = createError<[string]>('MI_ERR_DISK_CLI_ARGS', 'archive read: %s')
