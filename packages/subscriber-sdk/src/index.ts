export type { StandardSchemaV1 } from '@standard-schema/spec'
export type { ConfigIssue } from './config.ts'
export { validateSubscriberConfig } from './config.ts'
export {
  assertHostCompatible,
  defineSubscriber,
  getSubscriberMeta,
  isSubscriber,
  subscriberFromModule,
} from './define.ts'
export type { EmitBuffer, EmitSink, PendingEmit } from './emit.ts'
export { createEmitBuffer, MAX_STREAM_NAME_BYTES } from './emit.ts'
export {
  MI_ERR_PLUGIN_CONFIG_INVALID,
  MI_ERR_PLUGIN_EMIT_INVALID,
  MI_ERR_PLUGIN_INVALID,
  MI_ERR_PLUGIN_NOT_SUBSCRIBER,
  MI_ERR_PLUGIN_SIMULATED_FAILURE,
  MI_ERR_PLUGIN_VERSION_MISMATCH,
} from './errors.ts'
export type { BodyFormat } from './record.ts'
export { encodeBody, kBodyFormats, printableText, recordToJson } from './record.ts'
export { satisfies } from './semver.ts'
export { sleep } from './sleep.ts'
export { kSubscriber } from './symbols.ts'
export type {
  Counter,
  EmittedRecord,
  Gauge,
  Histogram,
  LogFn,
  Logger,
  MaybePromise,
  Subscriber,
  SubscriberConfig,
  SubscriberContext,
  SubscriberDefinition,
  SubscriberHooks,
  SubscriberMeta,
  SubscriberMetrics,
  SubscriberRecord,
} from './types.ts'
export { SDK_VERSION, SUPPORTED_HOST_RANGE } from './version.ts'
