import { createError } from '@module-ingest/errors'

// Registration and loading: thrown on the main thread before any worker starts, when possible.
export const MI_ERR_PLUGIN_INVALID = createError<[string]>(
  'MI_ERR_PLUGIN_INVALID',
  'invalid subscriber definition: %s',
  TypeError,
)
export const MI_ERR_PLUGIN_NOT_SUBSCRIBER = createError<[string]>(
  'MI_ERR_PLUGIN_NOT_SUBSCRIBER',
  'module %s: default export is not a subscriber (wrap it in defineSubscriber())',
  TypeError,
)
export const MI_ERR_PLUGIN_VERSION_MISMATCH = createError<[string, string, string]>(
  'MI_ERR_PLUGIN_VERSION_MISMATCH',
  'subscriber %s supports host %s, this host is %s',
)
export const MI_ERR_PLUGIN_CONFIG_INVALID = createError<[string, string]>(
  'MI_ERR_PLUGIN_CONFIG_INVALID',
  'subscriber %s: invalid config: %s',
)

// Inside a worker, while a batch is handled.
export const MI_ERR_PLUGIN_EMIT_INVALID = createError<[string, string]>(
  'MI_ERR_PLUGIN_EMIT_INVALID',
  'subscriber %s: invalid emit: %s',
  TypeError,
)

// Test kit only: the failure injected by harness.failNext().
export const MI_ERR_PLUGIN_SIMULATED_FAILURE = createError<[string]>(
  'MI_ERR_PLUGIN_SIMULATED_FAILURE',
  'simulated delivery failure: %s',
)
