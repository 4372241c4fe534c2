/**
 * A kv write on the wire: the body of one record on stream `kv.<namespace>`, a small MessagePack
 * map. Shared by the writers (client SDK, CLI) and the materializer, so both sides agree on every
 * check: a writer fails fast on what the materializer would reject anyway.
 *
 *   { op: 'set',  key, type, value, ttlMs?, rev?, txn? }
 *   { op: 'hset', key, value, field?, ttlMs?, rev?, txn? }      value: JSON text
 *   { op: 'lset', key, action, index?, value?, ttlMs?, rev?, txn? }
 *   { op: 'del',  key, rev?, txn? }
 *
 * `value` for type json/list (and hset/lset) is JSON text, for int a decimal string (any signed
 * 64-bit integer, bigint-safe), for string a string, for bool a boolean. `rev` is the expected
 * revision (the lsn that last wrote the key; 0 = the key must not exist). `txn` is the number of
 * operations in the MIP/1 BATCH this one belongs to (absent = 1): it lets the materializer tell a
 * complete transaction from one whose tail has not been delivered yet.
 */
import { Packr } from 'msgpackr'
import {
  MI_ERR_KV_OP_INVALID,
  MI_ERR_KV_TTL_INVALID,
  MI_ERR_KV_VALUE_TOO_LARGE,
  MI_ERR_KV_WRONG_TYPE,
} from './errors.ts'
import { plainJsonSet } from './wire.ts'

export const kTypes = ['string', 'json', 'list', 'int', 'bool'] as const
export type KvType = (typeof kTypes)[number]
export const kListActions = ['push', 'unshift', 'pop', 'shift', 'set', 'remove'] as const
export type ListAction = (typeof kListActions)[number]

/** A typed value as the SDK and the read API see it. */
export type KvValue =
  | { type: 'string'; value: string }
  | { type: 'json'; value: unknown }
  | { type: 'list'; value: unknown[] }
  | { type: 'int'; value: bigint }
  | { type: 'bool'; value: boolean }

interface Common {
  key: string
  /** Expected revision: the lsn that last wrote the key, 0 = must not exist. */
  rev?: number
}
export type KvOp =
  | (Common & { op: 'set'; value: KvValue; ttlMs?: number })
  | (Common & { op: 'hset'; value: unknown; field?: string; ttlMs?: number })
  | (Common & { op: 'lset'; action: ListAction; index?: number; value?: unknown; ttlMs?: number })
  | (Common & { op: 'del' })

/** What one record decodes to: the operation and the size of its transaction. */
export interface DecodedOp {
  op: KvOp
  txn: number
  /** A set's value in its stored text form (what `valueText` would give), taken from the wire. */
  text?: string
}

export const kLimits = {
  /** UTF-8 bytes of a key. */
  keyBytes: 1024,
  /** Default most bytes of a stored value (its JSON / text form); the store's `maxValueBytes`. */
  valueBytes: 1024 * 1024,
  /** Longest TTL: ten years. */
  ttlMs: 10 * 365 * 24 * 3600 * 1000,
  /** Operations in one transaction (one MIP/1 BATCH). */
  txnOps: 1000,
} as const

export const kStreamPrefix = 'kv.'
const kNamespaceRe = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,250}$/
const kInt64Min = -(2n ** 63n)
const kInt64Max = 2n ** 63n - 1n

export function isNamespace(ns: unknown): ns is string {
  return typeof ns === 'string' && kNamespaceRe.test(ns)
}
export function streamOf(ns: string): string {
  if (!isNamespace(ns))
    throw new MI_ERR_KV_OP_INVALID(`namespace "${ns}": expected 1..251 characters of [A-Za-z0-9._-]`)
  return `${kStreamPrefix}${ns}`
}
/** The namespace of a `kv.<ns>` stream, or undefined for any other stream. */
export function namespaceOf(stream: string): string | undefined {
  if (!stream.startsWith(kStreamPrefix)) return undefined
  const ns = stream.slice(kStreamPrefix.length)
  return isNamespace(ns) ? ns : undefined
}

const packr = new Packr({ useRecords: false, int64AsType: 'bigint' })

function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key === '') throw new MI_ERR_KV_OP_INVALID('key must be a non-empty string')
  if (key.includes('\u0000')) throw new MI_ERR_KV_OP_INVALID('key must not contain NUL')
  // A UTF-16 unit is at most 3 UTF-8 bytes: only a long key needs counting.
  if (key.length * 3 > kLimits.keyBytes && Buffer.byteLength(key) > kLimits.keyBytes)
    throw new MI_ERR_KV_OP_INVALID(`key is longer than ${kLimits.keyBytes} bytes`)
  return key
}
function checkTtl(ttl: unknown): number | undefined {
  if (ttl === undefined || ttl === null) return undefined
  const n = typeof ttl === 'bigint' ? Number(ttl) : ttl
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1 || n > kLimits.ttlMs)
    throw new MI_ERR_KV_TTL_INVALID(`ttlMs must be an integer in 1..${kLimits.ttlMs}, got ${String(ttl)}`)
  return n
}
function checkRev(rev: unknown): number | undefined {
  if (rev === undefined || rev === null) return undefined
  const n = typeof rev === 'bigint' ? Number(rev) : rev
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
    throw new MI_ERR_KV_OP_INVALID(`rev must be a non-negative integer, got ${String(rev)}`)
  return n
}
/** Parse JSON text; `what` names it in the error. */
function jsonText(text: unknown, what: string): unknown {
  if (typeof text !== 'string') throw new MI_ERR_KV_OP_INVALID(`${what} must be JSON text`)
  try {
    return JSON.parse(text)
  } catch {
    throw new MI_ERR_KV_OP_INVALID(`${what} is not valid JSON`)
  }
}

export function parseInt64(v: unknown): bigint {
  let b: bigint
  if (typeof v === 'bigint') b = v
  else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v)
  else if (typeof v === 'string' && /^-?\d{1,19}$/.test(v)) b = BigInt(v)
  else throw new MI_ERR_KV_WRONG_TYPE(`an int value must be a signed 64-bit integer, got ${String(v)}`)
  if (b < kInt64Min || b > kInt64Max)
    throw new MI_ERR_KV_WRONG_TYPE(`an int value must be a signed 64-bit integer, got ${b}`)
  return b
}

/** A typed value → its stored text (also what the size limit measures). */
export function valueText(v: KvValue): string {
  switch (v.type) {
    case 'string':
      if (typeof v.value !== 'string') throw new MI_ERR_KV_WRONG_TYPE('a string value must be a string')
      return v.value
    case 'json': {
      const t = JSON.stringify(v.value)
      if (t === undefined) throw new MI_ERR_KV_WRONG_TYPE('a json value must be JSON-serializable')
      return t
    }
    case 'list':
      if (!Array.isArray(v.value)) throw new MI_ERR_KV_WRONG_TYPE('a list value must be an array')
      return JSON.stringify(v.value)
    case 'int':
      return parseInt64(v.value).toString()
    case 'bool':
      if (typeof v.value !== 'boolean') throw new MI_ERR_KV_WRONG_TYPE('a bool value must be true or false')
      return v.value ? 'true' : 'false'
    default:
      throw new MI_ERR_KV_OP_INVALID(`unknown type "${(v as { type: unknown }).type}"`)
  }
}
/** Stored text + type → the typed value. */
export function valueFromText(type: KvType, text: string): KvValue {
  switch (type) {
    case 'string':
      return { type, value: text }
    case 'json':
      return { type, value: JSON.parse(text) }
    case 'list':
      return { type, value: JSON.parse(text) as unknown[] }
    case 'int':
      return { type, value: BigInt(text) }
    case 'bool':
      return { type, value: text === 'true' }
  }
}

/** An operation (and its transaction size) → record body. Validates first: throws MI_ERR_KV_*. */
export function encodeOp(op: KvOp, txn = 1): Buffer {
  checkKey(op.key)
  checkRev(op.rev)
  const m: Record<string, unknown> = { op: op.op, key: op.key }
  if (op.rev !== undefined) m.rev = op.rev
  if (txn !== 1) m.txn = txn
  switch (op.op) {
    case 'set':
      m.type = op.value.type
      m.value = op.value.type === 'json' || op.value.type === 'list' ? valueText(op.value) : op.value.value
      if (op.value.type === 'int') m.value = parseInt64(op.value.value).toString()
      else valueText(op.value)
      break
    case 'hset': {
      const t = JSON.stringify(op.value)
      if (t === undefined) throw new MI_ERR_KV_WRONG_TYPE('an hset value must be JSON-serializable')
      m.value = t
      if (op.field !== undefined) m.field = op.field
      break
    }
    case 'lset':
      m.action = op.action
      if (op.index !== undefined) m.index = op.index
      if (op.value !== undefined) m.value = JSON.stringify(op.value)
      break
    case 'del':
      break
    default:
      throw new MI_ERR_KV_OP_INVALID(`unknown op "${(op as { op: unknown }).op}"`)
  }
  if (op.op !== 'del' && op.ttlMs !== undefined) m.ttlMs = checkTtl(op.ttlMs)
  const body = packr.pack(m)
  decodeOp(body) // one definition of valid: the materializer's
  return body
}

/** Record body → operation. Throws MI_ERR_KV_* (the code the rejected outcome records). */
export function decodeOp(body: Uint8Array): DecodedOp {
  // The commonest record, read from its bytes (wire.ts); anything it cannot vouch for comes here.
  const p = plainJsonSet(body)
  if (p !== undefined)
    return { op: { op: 'set', key: p.key, value: lazyJson(p.text) }, txn: p.txn, text: p.text }
  return decodeGeneral(body)
}

/** decodeOp without the fast path (exported for the test that holds the two equal). */
export function decodeGeneral(body: Uint8Array): DecodedOp {
  let m: unknown
  try {
    m = packr.unpack(body)
  } catch {
    throw new MI_ERR_KV_OP_INVALID('body is not MessagePack')
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m))
    throw new MI_ERR_KV_OP_INVALID('body is not a MessagePack map')
  const r = m as Record<string, unknown>
  const txnRaw = r.txn ?? 1
  const txn = typeof txnRaw === 'bigint' ? Number(txnRaw) : txnRaw
  if (typeof txn !== 'number' || !Number.isInteger(txn) || txn < 1 || txn > kLimits.txnOps)
    throw new MI_ERR_KV_OP_INVALID(`txn must be an integer in 1..${kLimits.txnOps}`)
  const key = checkKey(r.key)
  const rev = checkRev(r.rev)
  const common = rev === undefined ? { key } : { key, rev }
  const ttlMs = checkTtl(r.ttlMs)
  const ttl = ttlMs === undefined ? {} : { ttlMs }
  // The common case, built without spreads (the materializer decodes every record it applies).
  if (r.op === 'set' && rev === undefined && ttlMs === undefined && r.type === 'json') {
    const text = r.value
    return {
      op: { op: 'set', key, value: { type: 'json', value: jsonText(text, 'value') } },
      txn,
      text: text as string,
    }
  }
  switch (r.op) {
    case 'set': {
      const type = r.type
      if (!kTypes.includes(type as KvType))
        throw new MI_ERR_KV_OP_INVALID(`set: type must be one of ${kTypes.join(', ')}`)
      // `text` saves the materializer re-serializing what the wire already carries as text.
      let value: KvValue
      let text: string
      if (type === 'json') {
        value = { type, value: jsonText(r.value, 'value') }
        text = r.value as string
      } else if (type === 'list') {
        const v = jsonText(r.value, 'value')
        if (!Array.isArray(v)) throw new MI_ERR_KV_WRONG_TYPE('a list value must be a JSON array')
        value = { type, value: v }
        text = r.value as string
      } else if (type === 'int') {
        value = { type, value: parseInt64(r.value) }
        text = value.value.toString()
      } else if (type === 'bool') {
        if (typeof r.value !== 'boolean') throw new MI_ERR_KV_WRONG_TYPE('a bool value must be true or false')
        value = { type, value: r.value }
        text = r.value ? 'true' : 'false'
      } else {
        if (typeof r.value !== 'string') throw new MI_ERR_KV_WRONG_TYPE('a string value must be a string')
        value = { type: 'string', value: r.value }
        text = r.value
      }
      return { op: { op: 'set', ...common, value, ...ttl }, txn, text }
    }
    case 'hset': {
      const value = jsonText(r.value, 'value')
      if (r.field !== undefined) {
        if (typeof r.field !== 'string' || r.field === '')
          throw new MI_ERR_KV_OP_INVALID('hset: field must be a non-empty string')
        return { op: { op: 'hset', ...common, field: r.field, value, ...ttl }, txn }
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new MI_ERR_KV_WRONG_TYPE('hset without a field merges a JSON object')
      return { op: { op: 'hset', ...common, value, ...ttl }, txn }
    }
    case 'lset': {
      const action = r.action as ListAction
      if (!kListActions.includes(action))
        throw new MI_ERR_KV_OP_INVALID(`lset: action must be one of ${kListActions.join(', ')}`)
      const out: KvOp = { op: 'lset', ...common, action, ...ttl }
      if (r.index !== undefined) {
        const i = typeof r.index === 'bigint' ? Number(r.index) : r.index
        if (typeof i !== 'number' || !Number.isSafeInteger(i))
          throw new MI_ERR_KV_OP_INVALID('lset: index must be an integer')
        out.index = i
      }
      if (r.value !== undefined) out.value = jsonText(r.value, 'value')
      if ((action === 'push' || action === 'unshift' || action === 'set') && out.value === undefined)
        throw new MI_ERR_KV_OP_INVALID(`lset ${action} needs a value`)
      if ((action === 'set' || action === 'remove') && out.index === undefined)
        throw new MI_ERR_KV_OP_INVALID(`lset ${action} needs an index`)
      return { op: out, txn }
    }
    case 'del':
      return { op: { op: 'del', ...common }, txn }
    default:
      throw new MI_ERR_KV_OP_INVALID(`unknown op ${JSON.stringify(String(r.op))}`)
  }
}

/**
 * A JSON value already validated (wire.ts) whose parse waits until someone reads it: the
 * materializer stores the text and never does.
 */
class LazyJson {
  readonly type = 'json'
  #text: string
  #parsed: { v: unknown } | undefined
  constructor(text: string) {
    this.#text = text
  }
  get value(): unknown {
    this.#parsed ??= { v: JSON.parse(this.#text) }
    return this.#parsed.v
  }
}
const lazyJson = (text: string) => new LazyJson(text) as KvValue

/** Enforce the store's value size limit on a value's stored text. */
export function checkSize(text: string, max: number): void {
  const n = Buffer.byteLength(text)
  if (n > max) throw new MI_ERR_KV_VALUE_TOO_LARGE(`${n} bytes, at most ${max}`)
}

/** '10s', '500ms', '2m', '1h', '1d', or a bare number of seconds → ms. */
export function parseDuration(text: string): number {
  const m = /^(\d{1,15})(ms|s|m|h|d)?$/.exec(text.trim())
  if (!m) throw new MI_ERR_KV_TTL_INVALID(`"${text}": expected a number and a unit (ms, s, m, h, d)`)
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 's']!
  return checkTtl(Number(m[1]) * mult)!
}
