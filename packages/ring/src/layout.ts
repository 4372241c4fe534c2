/**
 * The one definition of a ring's shared memory, imported by both sides (producer.ts, consumer.ts),
 * as thread-stream's lib/indexes.js is. Nothing here touches Atomics except `createRing`.
 *
 * ```
 * SharedArrayBuffer(CONTROL_BYTES + capacityBytes)
 *
 * control block: Int32Array `ctrl`, 4 lines of 64 bytes; each writer owns one line
 * ┌ line 0 ─ bytes   0..63 ─ written once by createRing, read-only afterwards ──────────────────┐
 * │ [0]  MAGIC         0x4d495247 ('MIRG'): refuses a SAB that is not a ring                    │
 * │ [1]  VERSION       LAYOUT_VERSION                                                            │
 * │ [2]  CAPACITY      data region bytes, a power of two                                         │
 * │ [3]  MAX_RECORD    largest payload tryWrite accepts                                          │
 * ├ line 1 ─ bytes  64..127 ─ written by the PRODUCER ──────────────────────────────────────────┤
 * │ [16] WRITE         bytes published, u32 counter mod 2^32 (read with Atomics.load)           │
 * │ [17] STATE         STATE_OPEN | STATE_CLOSED (informative; the END record is the contract)   │
 * │ [18] SPACE_WAITER  1 while the producer sleeps on READ: the consumer's release() notifies   │
 * ├ line 2 ─ bytes 128..191 ─ written by the CONSUMER ──────────────────────────────────────────┤
 * │ [32] READ          bytes released, u32 counter mod 2^32                                      │
 * │ [33] DATA_WAITER   1 while the consumer sleeps on WRITE: the producer's publish() notifies   │
 * ├ line 3 ─ bytes 192..255 ─ unused: keeps READ's line off the data region's first line ───────┤
 * └─────────────────────────────────────────────────────────────────────────────────────────────┘
 * data region: bytes CONTROL_BYTES .. CONTROL_BYTES + capacity, records back to back
 *
 * record (8-byte aligned; never split by the wrap-around)
 * ┌────────────────────────────┬──────────────────┬─────────────────────────┬──────────┐
 * │ u32 head = kind<<24 | len  │ u32 tag          │ payload (len bytes)     │ pad to 8 │
 * └────────────────────────────┴──────────────────┴─────────────────────────┴──────────┘
 * sentinel heads (kind 0xff is reserved, so no real record can carry them):
 *   HEAD_PAD = 0xffffffff  the rest of the region up to its end is skipped; next record is at 0
 *   HEAD_END = 0xfffffffe  the producer closed; nothing follows (8 bytes, always reserved)
 * ```
 *
 * Why this header: 8 bytes is the smallest header that keeps records 8-byte aligned and carries a
 * full 32-bit tag (the connection id). That leaves 32 bits for length + kind: kinds are a small
 * enum (0..254), and 24 bits of length (16 MiB) is far above any frame or socket read we ring.
 * At 16-byte payloads the ring moves 24 bytes a record instead of 32 with a 16-byte header.
 *
 * Why u32 counters and not offsets or doubles: WRITE and READ count bytes since creation, so
 * "empty" (WRITE == READ) and "full" are distinct without a wasted slot, and used bytes are
 * `(WRITE - READ) >>> 0`, which stays right across the 2^31 and 2^32 wraps (tens of GB pass
 * through a long-lived ring) because the capacity is a power of two dividing 2^32 and never
 * exceeds 2^30. Atomics.wait only works on Int32Array (or BigInt64Array, which allocates a
 * BigInt per access), so a double counter could not be waited on.
 *
 * Max record: aligned(8 + len) <= capacity / 2. With the 8 bytes reserved for END, a record of
 * that size plus the worst-case pad before it (< its size) always fits a drained ring, so a
 * tryWrite that returns false will succeed after the consumer catches up; a larger record would
 * fail forever, so tryWrite throws MI_ERR_RING_RECORD_TOO_LARGE instead.
 */

export const LINE_BYTES = 64
export const LINE_INT32 = LINE_BYTES / 4

// line 0: constants
export const MAGIC = 0
export const VERSION = 1
export const CAPACITY = 2
export const MAX_RECORD = 3
// line 1: producer-owned
export const WRITE = LINE_INT32
export const STATE = LINE_INT32 + 1
export const SPACE_WAITER = LINE_INT32 + 2
// line 2: consumer-owned
export const READ = 2 * LINE_INT32
export const DATA_WAITER = 2 * LINE_INT32 + 1

export const CONTROL_BYTES = 4 * LINE_BYTES

/** Which side writes each control slot; layout.test.ts checks each writer keeps to its own line. */
export const SLOT_WRITER = {
  MAGIC: 'createRing',
  VERSION: 'createRing',
  CAPACITY: 'createRing',
  MAX_RECORD: 'createRing',
  WRITE: 'producer',
  STATE: 'producer',
  SPACE_WAITER: 'producer',
  READ: 'consumer',
  DATA_WAITER: 'consumer',
} as const

export const SLOTS = {
  MAGIC,
  VERSION,
  CAPACITY,
  MAX_RECORD,
  WRITE,
  STATE,
  SPACE_WAITER,
  READ,
  DATA_WAITER,
} as const

export const RING_MAGIC = 0x4d495247
export const LAYOUT_VERSION = 1

export const STATE_OPEN = 0
export const STATE_CLOSED = 1

export const HEADER_BYTES = 8
export const ALIGN = 8
export const LENGTH_BITS = 24
export const LENGTH_MASK = (1 << LENGTH_BITS) - 1
export const KIND_SHIFT = 24
/** Largest kind a caller may use; 0xff is reserved for the sentinels. */
export const MAX_KIND = 0xfe
/** Heads as read through a Uint32Array over the data region. */
export const HEAD_PAD = 0xffffffff
export const HEAD_END = 0xfffffffe
/** Bytes a close() needs; tryWrite never lets the ring fill past this. */
export const END_RESERVE_BYTES = HEADER_BYTES

export const MIN_CAPACITY_BYTES = 1024
/** 2^30: keeps `(WRITE - READ) >>> 0` unambiguous and the capacity a divisor of 2^32. */
export const MAX_CAPACITY_BYTES = 2 ** 30

/** Bytes a record with `len` payload bytes occupies, header and alignment included. */
export function recordBytes(len: number): number {
  return (HEADER_BYTES + len + ALIGN - 1) & ~(ALIGN - 1)
}

/** Largest payload for a data region of `capacity` bytes (see "Max record" above). */
export function maxRecordBytesFor(capacity: number): number {
  return Math.min(capacity / 2 - HEADER_BYTES, LENGTH_MASK - ALIGN)
}
