import { createError } from '@module-ingest/errors'

// Availability: handle() throws this so the runtime retries the batch with backoff and never
// dead-letters it (the code ends in _UNAVAILABLE): an inference server outage loses nothing.
export const MI_ERR_AI_REMOTE_UNAVAILABLE = createError<[string, string]>(
  'MI_ERR_AI_REMOTE_UNAVAILABLE',
  'inference server %s not usable: %s',
)
// The server answered, and refused the request (HTTP 4xx, gRPC INVALID_ARGUMENT …): not retried.
export const MI_ERR_AI_REMOTE_REJECTED = createError<[string, string, string]>(
  'MI_ERR_AI_REMOTE_REJECTED',
  'inference server %s rejected the request (%s): %s',
)

// Model loading and checks, thrown by init(). *_FATAL: retrying cannot help until the file or the
// config changes, so the runtime shows the subscriber as `failed` (with this code) and re-checks
// it once per failedRecheckMs instead of retrying; the server goes on ingesting.
export const MI_ERR_AI_MODEL_LOAD_FATAL = createError<[string, string]>(
  'MI_ERR_AI_MODEL_LOAD_FATAL',
  'cannot load the ONNX model %s: %s',
)
export const MI_ERR_AI_MODEL_MISMATCH_FATAL = createError<[string, string]>(
  'MI_ERR_AI_MODEL_MISMATCH_FATAL',
  'model %s does not fit the configured mapping: %s',
)
export const MI_ERR_AI_OUTPUT_INVALID = createError<[string, string]>(
  'MI_ERR_AI_OUTPUT_INVALID',
  'model %s returned an unusable output: %s',
)

// A record whose body does not fit the mapping: the code of its dead letter (never thrown).
export const MI_ERR_AI_BAD_RECORD = createError<[number, string]>(
  'MI_ERR_AI_BAD_RECORD',
  'record lsn %d does not fit the feature mapping: %s',
)
export const MI_ERR_AI_NOT_INITIALIZED = createError<[string]>(
  'MI_ERR_AI_NOT_INITIALIZED',
  'the ai subscriber %s was used before init()',
)
