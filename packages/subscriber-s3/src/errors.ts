import { createError } from '@module-ingest/errors'

// Availability: handle() throws this (after its own capped, jittered backoff) so the runtime
// redelivers the batch without spending attempts. It ends in _UNAVAILABLE on purpose: the
// runtime never dead-letters a batch for it, so an outage of any length only builds lag.
export const MI_ERR_S3_UNAVAILABLE = createError<[string, string, string]>(
  'MI_ERR_S3_UNAVAILABLE',
  'S3 endpoint %s (bucket %s) unreachable or failing: %s',
)
// Configuration the store refuses (AccessDenied, NoSuchBucket…). It ends in _FATAL on purpose: the
// runtime puts the subscriber in state failed and re-checks once per its failedRecheckMs; nothing
// is dead-lettered and no attempt is spent.
export const MI_ERR_S3_BUCKET_FATAL = createError<[string, string, string, number]>(
  'MI_ERR_S3_BUCKET_FATAL',
  's3://%s/%s: %s. A configuration error (bucket, region, endpoint or credentials): the subscriber is failed, uploads nothing and re-checks every %d ms',
)

// A request S3 rejected for this batch that is neither an outage nor a configuration problem
// (e.g. 400 InvalidArgument): counts as an attempt, like any plugin failure.
export const MI_ERR_S3_UPLOAD_FAILED = createError<[string, string, string]>(
  'MI_ERR_S3_UPLOAD_FAILED',
  'upload of s3://%s/%s failed: %s',
)

// Lifecycle and configuration.
export const MI_ERR_S3_NOT_INITIALIZED = createError<[string]>(
  'MI_ERR_S3_NOT_INITIALIZED',
  'the s3 subscriber %s was used before init()',
)
export const MI_ERR_S3_KEY_TEMPLATE = createError<[string, string]>(
  'MI_ERR_S3_KEY_TEMPLATE',
  'invalid key template %s: %s',
  TypeError,
)
