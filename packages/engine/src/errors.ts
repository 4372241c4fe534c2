import { createError } from '@module-ingest/errors'

// Startup: each rejects startEngine() or engine.listen(); nothing has accepted a connection yet.
export const MI_ERR_ENGINE_LOG_OPEN = createError<[string, string, string]>(
  'MI_ERR_ENGINE_LOG_OPEN',
  'cannot open the log in %s: %s. Inspect it with: module-ingest-recover-dump verify --log-dir %s',
)
export const MI_ERR_ENGINE_WORKER_START = createError<[string, string]>(
  'MI_ERR_ENGINE_WORKER_START',
  '%s worker failed to start: %s',
)
export const MI_ERR_ENGINE_LISTEN_FAILED = createError<[string, string]>(
  'MI_ERR_ENGINE_LISTEN_FAILED',
  'cannot listen for MIP/1 on %s: %s',
)

// Running: a data-path thread died, or the threads disagree about their own protocol.
export const MI_ERR_ENGINE_WORKER_EXITED = createError<[string, string]>(
  'MI_ERR_ENGINE_WORKER_EXITED',
  'the %s worker died: %s',
)
export const MI_ERR_ENGINE_WORKER_MEMORY = createError<[string, number, string]>(
  'MI_ERR_ENGINE_WORKER_MEMORY',
  'the %s worker reached its heap limit of %d MB (%s) and was terminated',
)
export const MI_ERR_ENGINE_MESSAGE_UNKNOWN = createError<[string, string]>(
  'MI_ERR_ENGINE_MESSAGE_UNKNOWN',
  'unknown %s message code %s (sender and receiver disagree: a bug)',
)
export const MI_ERR_ENGINE_STATE = createError<[string]>('MI_ERR_ENGINE_STATE', 'engine: %s')

/**
 * The `default:` of every switch over a thread message type: with every code handled, `message` is
 * `never` and this line type-checks; at run time a code nobody handles is a bug and fails loudly.
 */
export function unknownMessage(channel: string, message: never): never {
  throw new MI_ERR_ENGINE_MESSAGE_UNKNOWN(channel, JSON.stringify((message as { code?: unknown })?.code))
}
