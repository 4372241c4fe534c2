import {
  MI_ERR_RING_BUFFER_INVALID,
  MI_ERR_RING_CAPACITY_INVALID,
  MI_ERR_RING_OPT_INVALID,
} from './errors.ts'
import {
  CAPACITY,
  CONTROL_BYTES,
  LAYOUT_VERSION,
  MAGIC,
  MAX_CAPACITY_BYTES,
  MAX_RECORD,
  MIN_CAPACITY_BYTES,
  maxRecordBytesFor,
  READ,
  RING_MAGIC,
  VERSION,
  WRITE,
} from './layout.ts'

export interface CreateRingOptions {
  /**
   * Where both counters start (8-byte aligned, any u32). Tests use it to cross the 2^31 and 2^32
   * wraps without pushing gigabytes through; leave it at 0 otherwise.
   */
  startIndex?: number
}

/**
 * Allocate one ring: a SharedArrayBuffer holding the control block and `capacityBytes` of data.
 * `capacityBytes` is rounded up to a power of two (so byte counters can wrap at 2^32); the ring
 * reports what it really got as `maxRecordBytes` / `freeBytes`.
 */
export function createRing(capacityBytes: number, options: CreateRingOptions = {}): SharedArrayBuffer {
  if (
    !Number.isInteger(capacityBytes) ||
    capacityBytes < MIN_CAPACITY_BYTES ||
    capacityBytes > MAX_CAPACITY_BYTES
  ) {
    throw new MI_ERR_RING_CAPACITY_INVALID(MIN_CAPACITY_BYTES, MAX_CAPACITY_BYTES, String(capacityBytes))
  }
  const capacity = 2 ** Math.ceil(Math.log2(capacityBytes))
  const start = options.startIndex ?? 0
  if (!Number.isInteger(start) || start < 0 || start > 0xffffffff || start % 8 !== 0) {
    throw new MI_ERR_RING_OPT_INVALID('options.startIndex', 'an 8-byte aligned integer from 0 to 2^32 - 8')
  }
  const sab = new SharedArrayBuffer(CONTROL_BYTES + capacity)
  const ctrl = new Int32Array(sab, 0, CONTROL_BYTES / 4)
  // Plain stores: the SAB reaches other threads through postMessage, which orders them.
  ctrl[MAGIC] = RING_MAGIC
  ctrl[VERSION] = LAYOUT_VERSION
  ctrl[CAPACITY] = capacity
  ctrl[MAX_RECORD] = maxRecordBytesFor(capacity)
  ctrl[WRITE] = start | 0
  ctrl[READ] = start | 0
  return sab
}

export interface RingView {
  ctrl: Int32Array
  u8: Uint8Array
  u32: Uint32Array
  capacity: number
  mask: number
  maxRecordBytes: number
}

/** Check that `sab` is a ring and build the views both sides use. */
export function attachRing(sab: SharedArrayBuffer): RingView {
  if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < CONTROL_BYTES + MIN_CAPACITY_BYTES) {
    throw new MI_ERR_RING_BUFFER_INVALID('expected a SharedArrayBuffer from createRing()')
  }
  const ctrl = new Int32Array(sab, 0, CONTROL_BYTES / 4)
  const capacity = ctrl[CAPACITY]!
  if (ctrl[MAGIC] !== RING_MAGIC || ctrl[VERSION] !== LAYOUT_VERSION) {
    throw new MI_ERR_RING_BUFFER_INVALID('bad magic or layout version')
  }
  if (sab.byteLength !== CONTROL_BYTES + capacity || ctrl[MAX_RECORD] !== maxRecordBytesFor(capacity)) {
    throw new MI_ERR_RING_BUFFER_INVALID('capacity does not match the buffer size')
  }
  return {
    ctrl,
    u8: new Uint8Array(sab, CONTROL_BYTES, capacity),
    u32: new Uint32Array(sab, CONTROL_BYTES, capacity / 4),
    capacity,
    mask: capacity - 1,
    maxRecordBytes: ctrl[MAX_RECORD]!,
  }
}

/** A doorbell must be an Int32Array over shared memory: Atomics.wait refuses anything else. */
export function checkDoorbell(doorbell: unknown, path: string): Int32Array | undefined {
  if (doorbell === undefined) return undefined
  if (
    !(doorbell instanceof Int32Array) ||
    !(doorbell.buffer instanceof SharedArrayBuffer) ||
    doorbell.length < 1
  ) {
    throw new MI_ERR_RING_OPT_INVALID(path, 'an Int32Array over a SharedArrayBuffer')
  }
  return doorbell
}
