export type { KvConfig, KvConfigInput } from './config.ts'
export { kvConfigSchema } from './config.ts'
export {
  MI_ERR_KV_COMMAND_INVALID,
  MI_ERR_KV_NOT_APPLIED,
  MI_ERR_KV_NOT_OPEN,
  MI_ERR_KV_OP_INVALID,
  MI_ERR_KV_READ_FAILED,
  MI_ERR_KV_REJECTED,
  MI_ERR_KV_REVISION_MISMATCH,
  MI_ERR_KV_SCHEMA,
  MI_ERR_KV_TTL_INVALID,
  MI_ERR_KV_TXN_INCOMPLETE,
  MI_ERR_KV_VALUE_TOO_LARGE,
  MI_ERR_KV_WRONG_TYPE,
} from './errors.ts'
export type { Command } from './grammar.ts'
export { parseCommand } from './grammar.ts'
export type { KvHttpHandler, KvReadOptions, VerifyToken } from './http.ts'
export { createKvReadHandler, kPrefix, kvStoresFromSubscribers, valueToJson } from './http.ts'
export type { DecodedOp, KvOp, KvType, KvValue, ListAction } from './ops.ts'
export {
  decodeOp,
  encodeOp,
  isNamespace,
  kLimits,
  kListActions,
  kTypes,
  namespaceOf,
  parseDuration,
  streamOf,
} from './ops.ts'
export type { HistoryEntry, KvEntry, Outcome } from './read.ts'
export { KvReader } from './read.ts'
export type { ApplyResult, KvRecord, KvStoreOptions } from './store.ts'
export { KvStore, mergePatch } from './store.ts'
export { kvSubscriber as default } from './subscriber.ts'
