// The public surface of @module-ingest/engine: re-exports only.
export type { Engine, EngineOptions } from './engine.ts'
export { startEngine } from './engine.ts'
export {
  MI_ERR_ENGINE_LISTEN_FAILED,
  MI_ERR_ENGINE_LOG_OPEN,
  MI_ERR_ENGINE_MESSAGE_UNKNOWN,
  MI_ERR_ENGINE_STATE,
  MI_ERR_ENGINE_WORKER_EXITED,
  MI_ERR_ENGINE_WORKER_START,
} from './errors.ts'
export type { EngineStats } from './stats.ts'
