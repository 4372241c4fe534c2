import { createError } from '@module-ingest/errors'

// ── creating and attaching ──────────────────────────────────────────────────────────────────────
export const MI_ERR_RING_CAPACITY_INVALID = createError<[number, number, string]>(
  'MI_ERR_RING_CAPACITY_INVALID',
  'capacityBytes must be an integer between %d and %d, got %s',
)
export const MI_ERR_RING_BUFFER_INVALID = createError<[string]>(
  'MI_ERR_RING_BUFFER_INVALID',
  'not a ring created by createRing(): %s',
)
export const MI_ERR_RING_OPT_INVALID = createError<[string, string]>(
  'MI_ERR_RING_OPT_INVALID',
  '%s must be %s',
)

// ── writing ─────────────────────────────────────────────────────────────────────────────────────
export const MI_ERR_RING_RECORD_TOO_LARGE = createError<[number, number]>(
  'MI_ERR_RING_RECORD_TOO_LARGE',
  'record of %d bytes exceeds maxRecordBytes (%d): it could never fit this ring',
)
export const MI_ERR_RING_KIND_INVALID = createError<[string]>(
  'MI_ERR_RING_KIND_INVALID',
  'kind must be an integer from 0 to 254, got %s',
)
export const MI_ERR_RING_TAG_INVALID = createError<[string]>(
  'MI_ERR_RING_TAG_INVALID',
  'tag must be an integer from 0 to 4294967295, got %s',
)
export const MI_ERR_RING_CLOSED = createError<[string]>('MI_ERR_RING_CLOSED', 'ring producer is closed: %s')
