// Writing an encoded append into a forming group (group-commit.ts): the batch header and name
// table are written, the records copied; the group's CRC is kept lazily (GroupCrc).
import { crc32 } from 'node:zlib'
import { crc32Combine } from './crc32-combine.ts'
import type { EncodedHeader } from './entry-format.ts'
import type { Writer } from './format.ts'

/**
 * The body CRC of a forming group, kept lazily: `crc` covers the body's bytes [0, pos). Small
 * appends are left for one crc32 call over many of them (catchUp); a big append's records come
 * with their CRC from the parser and are combined in without being read.
 */
export interface GroupCrc {
  crc: number
  pos: number
}

/** Fold the body bytes [g.pos, end) into g.crc (one call, however many appends they hold). */
export function catchUp(w: Writer, g: GroupCrc, end = w.pos): void {
  if (end > g.pos) g.crc = crc32(w.buf.subarray(g.pos, end), g.crc)
  g.pos = end
}

/**
 * Append the batch of the encoded append `b` (header from EncodedReader.read, ids from .ids) to a
 * group's body: the batch header and name table are written here, the records are copied.
 */
export function writeEncodedBatch(
  w: Writer,
  g: GroupCrc,
  b: Uint8Array,
  h: EncodedHeader,
  moduleId: number,
  coreId: number,
  rtsDelta: number,
  ids: number[],
): void {
  w.varint(moduleId)
  w.varint(coreId)
  w.u64(h.seq)
  w.zigzag(rtsDelta)
  w.varint(h.count)
  w.varint(ids.length)
  for (let i = 0; i < ids.length; i++) w.varint(ids[i]!)
  const records = b.subarray(h.recordsStart)
  if (h.crc < 0) {
    w.bytes(records)
    return
  }
  catchUp(w, g)
  w.bytes(records)
  g.crc = crc32Combine(g.crc, h.crc, records.length)
  g.pos = w.pos
}
