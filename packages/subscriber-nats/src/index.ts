export type { NatsSubscriberConfig, NatsSubscriberOptions } from './config.ts'
export { natsConfigSchema, parseNatsConfig } from './config.ts'
export {
  MI_ERR_NATS_CLOSED,
  MI_ERR_NATS_CREDENTIALS,
  MI_ERR_NATS_NOT_INITIALIZED,
  MI_ERR_NATS_PUBLISH_FAILED,
  MI_ERR_NATS_STREAM_SETUP,
  MI_ERR_NATS_UNAVAILABLE,
} from './errors.ts'
export type { RecordMeta } from './message.ts'
export { Header, msgIdOf } from './message.ts'
export type { SubjectInput, SubjectMapper } from './subject.ts'
export { compileSubject, sanitizeToken, sanitizeTokens } from './subject.ts'
export { default, version } from './subscriber.ts'
