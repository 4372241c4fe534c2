import { createError } from '@module-ingest/errors'

// Metrics registry
export const MI_ERR_TELEMETRY_METRIC_NAME = createError<[string, string]>(
  'MI_ERR_TELEMETRY_METRIC_NAME',
  'invalid metric name %s: %s',
)
export const MI_ERR_TELEMETRY_METRIC_CONFLICT = createError<[string, string]>(
  'MI_ERR_TELEMETRY_METRIC_CONFLICT',
  'metric %s is already registered as a %s',
)
export const MI_ERR_TELEMETRY_LABELS = createError<[string, string]>(
  'MI_ERR_TELEMETRY_LABELS',
  'metric %s: %s',
)
export const MI_ERR_TELEMETRY_SNAPSHOT = createError<[string]>(
  'MI_ERR_TELEMETRY_SNAPSHOT',
  'cannot merge metrics snapshot: %s',
)

// Admin socket
export const MI_ERR_TELEMETRY_ADMIN_IN_USE = createError<[string]>(
  'MI_ERR_TELEMETRY_ADMIN_IN_USE',
  'admin socket %s is in use by another running server',
)
export const MI_ERR_TELEMETRY_ADMIN_UNREACHABLE = createError<[string, string]>(
  'MI_ERR_TELEMETRY_ADMIN_UNREACHABLE',
  'cannot reach the admin socket %s (%s): is the server running?',
)
export const MI_ERR_TELEMETRY_ADMIN_TIMEOUT = createError<[string, number]>(
  'MI_ERR_TELEMETRY_ADMIN_TIMEOUT',
  'admin request %s got no answer within %d ms',
)
export const MI_ERR_TELEMETRY_ADMIN_UNKNOWN_CMD = createError<[string]>(
  'MI_ERR_TELEMETRY_ADMIN_UNKNOWN_CMD',
  'unknown admin command %s',
)
export const MI_ERR_TELEMETRY_ADMIN_BAD_REQUEST = createError<[string]>(
  'MI_ERR_TELEMETRY_ADMIN_BAD_REQUEST',
  'bad admin request: %s',
)
