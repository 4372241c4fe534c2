export type { ConfigEntry } from './describe.ts'
export { describeConfig, renderConfigMarkdown } from './describe.ts'
export * as errors from './errors.ts'
export type { HostPort } from './host-port.ts'
export { formatHostPort, parseHostPort } from './host-port.ts'
export type { ConfigIssue, LoadConfigOptions } from './load.ts'
export { configError, defaultConfig, loadConfig } from './load.ts'
export type {
  LimitsConfig,
  LogConfig,
  RingConfig,
  ServerConfig,
  ServerConfigInput,
  SubscriberConfig,
  TelemetryConfig,
  TlsConfig,
} from './schema.ts'
export { configSchema, defaultParsers } from './schema.ts'
export { envName, kEnvAliases } from './sources.ts'
