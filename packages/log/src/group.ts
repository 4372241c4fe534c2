// One group commit's bytes: the appends it holds, encoded as they arrive, and its framing on disk
// (group = u32 payloadLen | u32 crc | payload, see index.ts). No I/O and no writer state.
import { crc32, zstdCompressSync } from 'node:zlib'
import type { AppendEntry } from './api.ts'
import { kFlagNames, kFlagZstd, kGroupMagic, kGroupPrefixBytes, Writer } from './format.ts'

export interface Group {
  w: Writer
  baseLsn: number
  count: number
  baseRts: number
  maxRts: number
  firstTs: number
  /** Highest seq per module in this group: becomes the durable mark when the group does. */
  hwm: Map<string, bigint>
  /** Names first interned by this group's appends (persisted before it is written). */
  newNames: string[]
  startedAt: number
  // set when written
  offset: number
  endOffset: number
  writeUs: number
  syncUs: number
}

export function newGroup(baseLsn: number, rts: number, firstTs: number, capacity: number): Group {
  return {
    w: new Writer(capacity),
    baseLsn,
    count: 0,
    baseRts: rts,
    maxRts: rts,
    firstTs,
    hwm: new Map(),
    newNames: [],
    startedAt: performance.now(),
    offset: 0,
    endOffset: 0,
    writeUs: 0,
    syncUs: 0,
  }
}

/** Encode one (validated) append as a batch of `g`; `intern` maps a name to its catalog id. */
export function encodeAppend(g: Group, e: AppendEntry, intern: (name: string) => number): void {
  const w = g.w
  w.varint(intern(e.module))
  w.varint(e.core === '' ? 0 : intern(e.core))
  w.u64(e.seq)
  w.zigzag(e.rts - g.baseRts)
  w.varint(e.records.length)
  for (const r of e.records) {
    w.varint(intern(r.stream))
    w.zigzag(r.ts - e.rts)
    w.varint(r.body.length)
    w.bytes(r.body)
  }
  g.count += e.records.length
  if (e.rts > g.maxRts) g.maxRts = e.rts
  const prev = g.hwm.get(e.module)
  if (prev === undefined || e.seq > prev) g.hwm.set(e.module, e.seq)
}

export interface FramedGroup {
  head: Buffer
  body: Uint8Array
  total: number
}

/** The group's on-disk bytes: prefix + header (+ declared names) in `head`, the batches in `body`. */
export function frameGroup(
  g: Group,
  compress: boolean,
  declared: { firstId: number; names: string[] } | undefined,
): FramedGroup {
  let body: Uint8Array = g.w.buf.subarray(0, g.w.pos)
  const h = new Writer(48)
  h.ensure(kGroupPrefixBytes)
  h.pos = kGroupPrefixBytes
  let flags = kGroupMagic
  let compressed: Uint8Array | undefined
  if (compress && body.length >= 256) {
    const c = zstdCompressSync(body)
    if (c.length + 8 < body.length) {
      compressed = c
      flags |= kFlagZstd
    }
  }
  if (declared) flags |= kFlagNames
  h.u8(flags)
  h.varint(g.baseLsn)
  h.varint(g.count)
  h.varint(g.baseRts)
  if (declared) {
    h.varint(declared.firstId)
    h.varint(declared.names.length)
    for (const n of declared.names) {
      const b = Buffer.from(n, 'utf8')
      h.varint(b.length)
      h.ensure(b.length)
      b.copy(h.buf, h.pos)
      h.pos += b.length
    }
  }
  if (compressed) {
    h.varint(body.length)
    body = compressed
  }
  const head = h.buf.subarray(0, h.pos)
  const payloadLen = head.length - kGroupPrefixBytes + body.length
  head.writeUInt32LE(payloadLen, 0)
  head.writeUInt32LE(crc32(body, crc32(head.subarray(kGroupPrefixBytes))), 4)
  return { head, body, total: kGroupPrefixBytes + payloadLen }
}
