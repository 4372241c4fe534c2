import { Packr } from 'msgpackr'
import type { StoredRecord } from './log-types.ts'

/**
 * One batch crosses into the worker as one msgpack buffer, moved (transferred), never
 * structured-cloned record by record. `useRecords` writes each record's keys once per batch.
 * Checked on msgpackr 2.1: a bigint `seq` is written as int64 and read back as a bigint, while
 * µs timestamps (safe integers above 2^32) travel as float64 and come back as numbers.
 */
const packr = new Packr({ useRecords: true })

/** Encode into a fresh ArrayBuffer that the caller may transfer (msgpackr reuses its own buffer). */
export function encodeBatch(records: readonly StoredRecord[]): ArrayBuffer {
  const packed = packr.pack(records)
  const out = new Uint8Array(packed.length)
  out.set(packed)
  return out.buffer
}

export function decodeBatch(buf: ArrayBuffer): StoredRecord[] {
  return packr.unpack(new Uint8Array(buf)) as StoredRecord[]
}

export interface WireEmit {
  stream: string
  body: Uint8Array
}

export function encodeEmits(emits: readonly WireEmit[]): ArrayBuffer {
  return encodeBatch(emits as unknown as StoredRecord[])
}

export function decodeEmits(buf: ArrayBuffer): WireEmit[] {
  return packr.unpack(new Uint8Array(buf)) as WireEmit[]
}

/** Approximate in-memory size of a record, for `batch.maxBytes`. */
export function recordBytes(r: StoredRecord): number {
  return r.body.byteLength + r.stream.length + r.module.length + r.core.length + 48
}
