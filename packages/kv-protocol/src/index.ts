export {
  MI_ERR_KV_COMMAND_INVALID,
  MI_ERR_KV_OP_INVALID,
  MI_ERR_KV_READ_FAILED,
  MI_ERR_KV_REJECTED,
  MI_ERR_KV_TTL_INVALID,
  MI_ERR_KV_VALUE_TOO_LARGE,
  MI_ERR_KV_WRONG_TYPE,
} from './errors.ts'
export type { Command } from './grammar.ts'
export { inferValue, parseCommand } from './grammar.ts'
export type { DecodedOp, KvOp, KvType, KvValue, ListAction } from './ops.ts'
export {
  checkSize,
  decodeOp,
  encodeOp,
  isNamespace,
  kLimits,
  kListActions,
  kStreamPrefix,
  kTypes,
  namespaceOf,
  parseDuration,
  parseInt64,
  streamOf,
  valueFromText,
  valueText,
} from './ops.ts'
