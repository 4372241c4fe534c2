// append()'s argument checks: an AppendEntry from a caller (not a parser's encoded append, which
// EncodedReader checks) must name a module, a u64 seq, a receive time and well-formed records.
import type { AppendEntry } from './api.ts'
import { kMaxNameChars } from './entry-format.ts'
import { MI_ERR_LOG_APPEND_INVALID } from './errors.ts'

/** Throws MI_ERR_LOG_APPEND_INVALID naming the first field that is not what the log stores. */
export function checkAppend(entry: AppendEntry): void {
  const { module, core, seq, rts, records } = entry
  if (typeof module !== 'string' || module.length === 0 || module.length > kMaxNameChars) {
    throw new MI_ERR_LOG_APPEND_INVALID('module must be a non-empty string')
  }
  if (typeof core !== 'string' || core.length > kMaxNameChars)
    throw new MI_ERR_LOG_APPEND_INVALID('core must be a string')
  if (typeof seq !== 'bigint' || seq < 0n || seq > 0xffff_ffff_ffff_ffffn) {
    throw new MI_ERR_LOG_APPEND_INVALID('seq must be a u64 bigint')
  }
  if (!Number.isSafeInteger(rts) || rts < 0)
    throw new MI_ERR_LOG_APPEND_INVALID('rts must be a non-negative integer (µs)')
  if (!Array.isArray(records) || records.length === 0)
    throw new MI_ERR_LOG_APPEND_INVALID('records must be non-empty')
  for (const r of records) {
    if (typeof r.stream !== 'string' || r.stream.length === 0 || r.stream.length > kMaxNameChars) {
      throw new MI_ERR_LOG_APPEND_INVALID('stream must be a non-empty string')
    }
    if (typeof r.ts === 'bigint' ? r.ts < 0n || r.ts > 0xffff_ffff_ffff_ffffn : !Number.isSafeInteger(r.ts))
      throw new MI_ERR_LOG_APPEND_INVALID('ts must be a safe integer or a u64 bigint (µs)')
    if (!(r.body instanceof Uint8Array)) throw new MI_ERR_LOG_APPEND_INVALID('body must be a Uint8Array')
  }
}
