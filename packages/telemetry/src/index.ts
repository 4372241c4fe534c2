export type { AdminHandler, AdminHandlers, AdminRequest, AdminResponse, AdminServer } from './admin.ts'
export { adminRequest, startAdminServer } from './admin.ts'
export * as errors from './errors.ts'
export type { HistogramStats } from './histogram.ts'
export type { JsonApiOptions, JsonRoute } from './json-api.ts'
export { HttpError, JsonText, jsonApiHandler, QueryParams, sendJson } from './json-api.ts'
export type { Level, Logger, LoggerOptions } from './logger.ts'
export { createLogger, getRecentLogs, writeRawLine } from './logger.ts'
export { MemoryLogRing } from './memory-ring.ts'
export type {
  HistogramUnit,
  Labels,
  MetricsSnapshot,
  MetricsSummary,
  MetricType,
} from './metrics.ts'
export { Counter, Gauge, Histogram, Metrics } from './metrics.ts'
export type { HttpHandler, MetricsServer, MetricsServerOptions } from './metrics-server.ts'
export { startMetricsServer } from './metrics-server.ts'
export { formatPretty } from './pretty.ts'
export { kPrometheusContentType, toPrometheus } from './prometheus.ts'
export { formatMetricsTable } from './table.ts'
export type { WindowRead } from './window.ts'
export { HistogramWindow } from './window.ts'
export type { WorkerLoggerOptions, WorkerLogMessage } from './worker-logger.ts'
export { attachWorkerLogs, createWorkerLogger, isWorkerLogMessage } from './worker-logger.ts'
