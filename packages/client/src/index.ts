export { Client, connect } from './client.ts'
export type { WireCodedError } from './errors.ts'
export {
  MI_ERR_CLIENT_CLOSED,
  MI_ERR_CLIENT_CONNECT_TIMEOUT,
  MI_ERR_CLIENT_CONNECTION,
  MI_ERR_CLIENT_FATAL,
  MI_ERR_CLIENT_GAVE_UP,
  MI_ERR_CLIENT_NACK,
  MI_ERR_CLIENT_OPT_INVALID,
  PERMANENT_CODES,
} from './errors.ts'
export type { KvEntry, KvNamespace, KvOptions, WriteOptions, WriteResult } from './kv.ts'
export { createKv, KvTxn, typed } from './kv.ts'
export type { ConnectOptions, Logger, ReconnectOptions } from './options.ts'
export type { BatchOptions, ClientStats, ConnectedInfo, SendOptions } from './types.ts'
