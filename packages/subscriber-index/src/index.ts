export type { IndexConfig, IndexConfigInput } from './config.ts'
export { indexConfigSchema } from './config.ts'
export {
  MI_ERR_INDEX_NOT_OPEN,
  MI_ERR_INDEX_QUERY_INVALID,
  MI_ERR_INDEX_REBUILD,
  MI_ERR_INDEX_SCHEMA,
} from './errors.ts'
export type { IndexHttpHandler, IndexQueryOptions, VerifyToken } from './http.ts'
export { createIndexQueryHandler, kLimits, kPrefix } from './http.ts'
export { logRecordSource, oldestLogLsn } from './log-source.ts'
export type { QueryEndpoint, QueryParam } from './params.ts'
export { kQueryEndpoints, kQueryParams } from './params.ts'
export type {
  Aggregation,
  FoundRecord,
  RangeFormat,
  RangeQuery,
  RangeResult,
  RecordSource,
  RecordsQuery,
  SeriesQuery,
  SeriesRow,
} from './query.ts'
export { IndexReader, kAggregations, kRangeFormats } from './query.ts'
export type { RebuildOptions, RebuildResult } from './rebuild.ts'
export { rebuildIndex } from './rebuild.ts'
export { indexSubscriber as default } from './subscriber.ts'
export type { ApplyResult, IndexableRecord, IndexWriterOptions } from './writer.ts'
export { IndexWriter } from './writer.ts'
