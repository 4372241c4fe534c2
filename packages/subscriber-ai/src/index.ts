export type { AiConfig, MappingConfig, OnnxConfig, RemoteConfig } from './config.ts'
export { aiConfigSchema, SHIPPED_MODEL_PATH } from './config.ts'
export {
  MI_ERR_AI_BAD_RECORD,
  MI_ERR_AI_MODEL_LOAD_FATAL,
  MI_ERR_AI_MODEL_MISMATCH_FATAL,
  MI_ERR_AI_NOT_INITIALIZED,
  MI_ERR_AI_OUTPUT_INVALID,
  MI_ERR_AI_REMOTE_REJECTED,
  MI_ERR_AI_REMOTE_UNAVAILABLE,
} from './errors.ts'
export type { AiResult } from './subscriber.ts'
export { aiSubscriber as default, version } from './subscriber.ts'
