// The write format (ops codec, command grammar, their errors) is @module-ingest/kv-protocol,
// shared with the client SDK; this package is the materializer and the read side.
export type { KvConfig, KvConfigInput } from './config.ts'
export { kvConfigSchema } from './config.ts'
export {
  MI_ERR_KV_NOT_APPLIED,
  MI_ERR_KV_NOT_OPEN,
  MI_ERR_KV_REVISION_MISMATCH,
  MI_ERR_KV_SCHEMA,
  MI_ERR_KV_TXN_INCOMPLETE,
} from './errors.ts'
export type { KvHttpHandler, KvReadOptions, VerifyToken } from './http.ts'
export { createKvReadHandler, kPrefix, valueToJson } from './http.ts'
export { mergePatch } from './patch.ts'
export type { HistoryEntry, KvEntry, Outcome } from './read.ts'
export { KvReader } from './read.ts'
export type { ApplyResult, KvRecord, KvStoreOptions } from './store.ts'
export { KvStore } from './store.ts'
export { kvSubscriber as default } from './subscriber.ts'
