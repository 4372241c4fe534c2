// One group commit's bytes: the appends it holds, encoded as they arrive, and its framing on disk
// (group = u32 payloadLen | u32 crc | payload, see index.ts). No I/O and no writer state.
import { crc32, zstdCompressSync } from 'node:zlib'
import { crc32Combine } from './crc32-combine.ts'
import { catchUp, type GroupCrc } from './entry-batch.ts'
import {
  kFlagBatchNames,
  kFlagNames,
  kFlagTs64,
  kFlagZstd,
  kGroupMagic,
  kGroupPrefixBytes,
  Writer,
} from './format.ts'

export interface Group {
  w: Writer
  baseLsn: number
  count: number
  baseRts: number
  maxRts: number
  firstTs: number
  /** An append of this group has a ts above 2^53-1: framed with kFlagTs64. */
  ts64: boolean
  /** Highest seq per module in this group: becomes the durable mark when the group does. */
  hwm: Map<string, bigint>
  /** Names first interned by this group's appends (persisted before it is written). */
  newNames: string[]
  /** Catalog ids the group uses, each once (names.ts used): its segment's, once written. */
  serial: number
  ids: number[]
  startedAt: number
  /** crc32 of w's bytes, kept lazily (entry.ts: big batches' records are not read again). */
  crc: GroupCrc
  // set when written
  offset: number
  endOffset: number
  writeUs: number
  syncUs: number
}

let groupSerial = 0

/** `space`: the bytes to encode into, allocated (a size) or recycled (group-commit.ts GroupBuffers). */
export function newGroup(baseLsn: number, rts: number, firstTs: number, space: number | Buffer): Group {
  return {
    w: new Writer(space),
    baseLsn,
    count: 0,
    baseRts: rts,
    maxRts: rts,
    firstTs,
    ts64: false,
    hwm: new Map(),
    newNames: [],
    serial: ++groupSerial,
    ids: [],
    startedAt: performance.now(),
    crc: { crc: 0, pos: 0 },
    offset: 0,
    endOffset: 0,
    writeUs: 0,
    syncUs: 0,
  }
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
  let flags = kGroupMagic | kFlagBatchNames
  let compressed: Uint8Array | undefined
  if (compress && body.length >= 256) {
    const c = zstdCompressSync(body)
    if (c.length + 8 < body.length) {
      compressed = c
      flags |= kFlagZstd
    }
  }
  if (declared) flags |= kFlagNames
  if (g.ts64) flags |= kFlagTs64
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
  const headCrc = crc32(head.subarray(kGroupPrefixBytes))
  if (!compressed) catchUp(g.w, g.crc)
  head.writeUInt32LE(compressed ? crc32(body, headCrc) : crc32Combine(headCrc, g.crc.crc, body.length), 4)
  return { head, body, total: kGroupPrefixBytes + payloadLen }
}

/** At most this many spare group buffers are kept (the async path has a few groups in flight). */
const kSpareGroups = 3
const kDetached = Buffer.alloc(0)

/**
 * The buffers of groups that became durable, for the next groups. By then a group's bytes are
 * written (writev returned; the kernel, and fault-fs in tests, hold their own copies) and nothing
 * reads the group's buffer again. Without this every group commit allocates a new ArrayBuffer,
 * whose bytes count against the writer isolate's old space: one more mark-compact every few dozen
 * MB appended. A dropped group (failure, close) is not recycled: its writev may still be running.
 */
export class GroupBuffers {
  #spare: Buffer[] = []

  /** Space for a new group of about `bytes`: a spare buffer if it is big enough, else that size. */
  take(bytes: number): number | Buffer {
    const b = this.#spare.pop()
    return b !== undefined && b.length >= bytes ? b : bytes
  }

  /** `g` is durable: its buffer may serve a later group (a few, none over `maxBytes`). */
  recycle(g: Group, maxBytes: number): void {
    const buf = g.w.buf
    // Detached, so a late reader of this group would see nothing rather than a later group's bytes.
    g.w.buf = kDetached
    g.w.pos = 0
    if (this.#spare.length < kSpareGroups && buf.length <= maxBytes) this.#spare.push(buf)
  }
}
