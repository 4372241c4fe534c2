export { decodeBatch, encodeBatch } from './codec.ts'
export type { BatchOptions, LogPosition, ResolvedSubscriberConfig, SubscriberConfig } from './config.ts'
export {
  DEFAULTS,
  rateLimitFields,
  resolveSubscriberConfig,
  resolveSubscriberConfigs,
  withPluginBatch,
  withPluginRateLimit,
} from './config.ts'
export { Dispatcher } from './dispatcher.ts'
export { hostEmit } from './emit.ts'
export * from './errors.ts'
export type { LogCursor, LogGroups, LogReader, StoredRecord } from './log-types.ts'
export { OffsetTracker } from './offsets.ts'
export type { RateLimit } from './pace.ts'
export { ingestWatch, Pacer } from './pace.ts'
export type { PluginRegistry } from './plugin.ts'
export { checkPlugin, HOST_VERSION, pluginPathsFromEnv, resolvePluginSpecifier } from './plugin.ts'
export type { Outcome } from './pool.ts'
export { SubscriberPool } from './pool.ts'
export type { StartSubscribersOptions, SubscriberRuntime } from './runtime.ts'
export { startSubscribers } from './runtime.ts'
export { compileStreamFilter } from './stream-filter.ts'
export type { StartSubscribersThreadOptions } from './thread.ts'
export { startSubscribersThread, terminateThreadForTests } from './thread.ts'
export type {
  DurableSignal,
  HostEmit,
  HostEmitPacked,
  RuntimeMetrics,
  SubscriberFailure,
  SubscriberState,
  SubscriberStats,
} from './types.ts'
export { SUBSCRIBER_STATES } from './types.ts'
