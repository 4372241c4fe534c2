import test from 'ava'
import {
  CONTROL_BYTES,
  createRing,
  END_RESERVE_BYTES,
  HEAD_END,
  HEAD_PAD,
  HEADER_BYTES,
  KIND_SHIFT,
  LENGTH_MASK,
  LINE_BYTES,
  MAX_CAPACITY_BYTES,
  MAX_KIND,
  MIN_CAPACITY_BYTES,
  maxRecordBytesFor,
  recordBytes,
  SLOT_WRITER,
  SLOTS,
} from '../src/internal.ts'

const slotEntries = Object.entries(SLOTS) as [keyof typeof SLOTS, number][]

test('Atomics on 4-byte words are lock-free (the only width the ring uses)', (t) => {
  t.true(Atomics.isLockFree(4))
})

test('slots are distinct and fit the control block', (t) => {
  const indexes = slotEntries.map(([, i]) => i)
  t.is(new Set(indexes).size, indexes.length)
  for (const [name, i] of slotEntries) {
    t.true(Number.isInteger(i) && i >= 0, name)
    t.true((i + 1) * 4 <= CONTROL_BYTES, `${name} fits the control block`)
  }
  t.is(CONTROL_BYTES % LINE_BYTES, 0, 'the data region starts on a line boundary')
  const sab = createRing(MIN_CAPACITY_BYTES)
  t.is(sab.byteLength, CONTROL_BYTES + MIN_CAPACITY_BYTES)
})

test('each writer owns its 64-byte lines: no line holds slots of two writers', (t) => {
  const lineOwner = new Map<number, string>()
  for (const [name, i] of slotEntries) {
    const line = Math.floor((i * 4) / LINE_BYTES)
    const writer = SLOT_WRITER[name]
    const owner = lineOwner.get(line)
    t.true(owner === undefined || owner === writer, `${name} (${writer}) shares line ${line} with ${owner}`)
    lineOwner.set(line, writer)
  }
  const line = (i: number) => Math.floor((i * 4) / LINE_BYTES)
  t.not(line(SLOTS.WRITE), line(SLOTS.READ))
  // The data region starts after a spare line, so READ's line is not adjacent to record bytes.
  t.true(CONTROL_BYTES - (line(SLOTS.READ) + 1) * LINE_BYTES >= LINE_BYTES)
})

test('sentinel heads can never be the head of a real record', (t) => {
  t.is(HEAD_PAD >>> KIND_SHIFT, 0xff)
  t.is(HEAD_END >>> KIND_SHIFT, 0xff)
  t.true(MAX_KIND < 0xff, 'kind 0xff is reserved for sentinels')
  t.not(HEAD_PAD, HEAD_END)
  // Their length fields also exceed any ring's max record.
  t.true((HEAD_PAD & LENGTH_MASK) > maxRecordBytesFor(MAX_CAPACITY_BYTES))
  t.true((HEAD_END & LENGTH_MASK) > maxRecordBytesFor(MAX_CAPACITY_BYTES))
  // A real head: kind <= MAX_KIND, len <= max: never equal to either sentinel.
  const biggest = ((MAX_KIND << KIND_SHIFT) | maxRecordBytesFor(MAX_CAPACITY_BYTES)) >>> 0
  t.true(biggest < HEAD_END)
})

test('records are 8-byte aligned and the max record fits a drained ring after the worst pad', (t) => {
  for (let len = 0; len < 64; len++) {
    const size = recordBytes(len)
    t.is(size % 8, 0)
    t.true(size >= HEADER_BYTES + len && size < HEADER_BYTES + len + 8)
  }
  for (let cap = MIN_CAPACITY_BYTES; cap <= MAX_CAPACITY_BYTES; cap *= 2) {
    const max = maxRecordBytesFor(cap)
    const size = recordBytes(max)
    t.true(max <= LENGTH_MASK, 'length fits its 24 bits')
    t.true(size <= cap / 2)
    // Worst pad is one record slot short of the record: size - 8.
    t.true(size - 8 + size + END_RESERVE_BYTES <= cap, `cap ${cap}`)
  }
})

test('counters: the capacity divides 2^32, so offsets survive the u32 wrap', (t) => {
  for (let cap = MIN_CAPACITY_BYTES; cap <= MAX_CAPACITY_BYTES; cap *= 2) t.is(2 ** 32 % cap, 0)
  const read = (2 ** 32 - 8) | 0 // as stored in the Int32 slot: -8
  const write = (read + 24) | 0 // 16 after the wrap
  t.is(write, 16)
  t.is((write - read) >>> 0, 24, 'used bytes across the u32 wrap')
  t.is(read & (MIN_CAPACITY_BYTES - 1), MIN_CAPACITY_BYTES - 8, 'offset of a negative int32 counter')
  t.is(((2 ** 31 - 8) | 0) + 16, 2 ** 31 + 8, 'int32 counters must be re-wrapped with | 0 after adding')
})
