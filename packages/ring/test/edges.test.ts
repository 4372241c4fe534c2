// Every wrap-around edge, placed exactly with createRing's startIndex (1 KiB ring: 1024 bytes of
// data, max record 504 bytes = 512 with its header, 8 bytes always reserved for END).
import test from 'ava'
import { CONTROL_BYTES, createRing, RingConsumer, RingProducer } from '../src/internal.ts'

const CAP = 1024

function ring(startIndex: number) {
  const sab = createRing(CAP, { startIndex })
  return { sab, p: new RingProducer(sab), c: new RingConsumer(sab) }
}

function fill(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (seed * 13 + i) & 0xff)
}

/** Read everything, returning [offset into data region, length, tag] per record, and check bytes. */
function readAll(t: import('ava').ExecutionContext, c: RingConsumer, seeds?: Map<number, number>) {
  const seen: [number, number, number][] = []
  c.read((d, _k, tag) => {
    seen.push([d.byteOffset - CONTROL_BYTES - 8, d.length, tag])
    if (seeds) t.deepEqual([...d], [...fill(d.length, seeds.get(tag)!)], `record ${tag} bytes`)
  })
  c.release()
  return seen
}

test('a record exactly filling the tail: no pad, the next one starts at 0', (t) => {
  for (const len of [49, 56]) {
    // 49..56 all round up to 64 bytes, the whole tail.
    const { p, c } = ring(CAP - 64)
    t.true(p.tryWrite(1, len, fill(len, len)))
    t.true(p.tryWrite(1, 0, fill(3, 0)))
    p.publish()
    t.is(c.usedBytes, 64 + 16, 'no pad')
    const seen = readAll(
      t,
      c,
      new Map([
        [len, len],
        [0, 0],
      ]),
    )
    t.deepEqual(seen, [
      [CAP - 64, len, len],
      [0, 3, 0],
    ])
  }
})

test('a record one byte too long for the tail: PAD fills the tail, record goes to 0', (t) => {
  const { p, c } = ring(CAP - 64)
  t.true(p.tryWrite(1, 7, fill(57, 7)))
  p.publish()
  t.is(c.usedBytes, 64 + 72, 'pad (the 64-byte tail) + the 72-byte record')
  t.deepEqual(readAll(t, c, new Map([[7, 7]])), [[0, 57, 7]])
  t.is(c.usedBytes, 0)
})

test('zero-length records at the very end: 8 bytes fit the last 8, 1 byte needs a pad', (t) => {
  {
    const { p, c } = ring(CAP - 8)
    t.true(p.tryWrite(5, 1, new Uint8Array(0)))
    t.true(p.tryWrite(5, 2, new Uint8Array(0)))
    p.publish()
    t.deepEqual(readAll(t, c), [
      [CAP - 8, 0, 1],
      [0, 0, 2],
    ])
  }
  {
    const { p, c } = ring(CAP - 8)
    t.true(p.tryWrite(5, 1, fill(1, 1)))
    p.publish()
    t.is(c.usedBytes, 8 + 16)
    t.deepEqual(readAll(t, c, new Map([[1, 1]])), [[0, 1, 1]])
  }
})

test('max-size record behind the worst pad fills the ring to the last byte, and close() still fits', (t) => {
  // Offset 520: the tail is 504 bytes, 8 short of a 512-byte max record. Pad 504 + 512 = 1016 =
  // 1024 - END reserve.
  const { p, c } = ring(520)
  t.is(p.maxRecordBytes, 504)
  t.true(p.tryWrite(1, 42, fill(504, 42)))
  t.is(p.freeBytes, 0)
  t.false(p.tryWrite(1, 0, new Uint8Array(0)))
  p.close()
  t.deepEqual(readAll(t, c, new Map([[42, 42]])), [[0, 504, 42]])
  t.true(c.closed)
  t.is(c.usedBytes, 0)
})

test('max-size record when it fits the tail exactly and when the ring is drained', (t) => {
  const { p, c } = ring(512)
  t.true(p.tryWrite(1, 1, fill(504, 1)), 'tail is exactly 512')
  t.false(p.tryWrite(1, 2, fill(504, 2)), 'only 504 bytes free, the END reserve is kept')
  p.publish()
  t.deepEqual(readAll(t, c, new Map([[1, 1]])), [[512, 504, 1]])
  t.true(p.tryWrite(1, 2, fill(504, 2)))
  t.true(p.tryWrite(1, 3, fill(496, 3)), 'exactly the rest minus END reserve')
  p.publish()
  t.deepEqual(
    readAll(
      t,
      c,
      new Map([
        [2, 2],
        [3, 3],
      ]),
    ),
    [
      [0, 504, 2],
      [512, 496, 3],
    ],
  )
})

test('END in the last 8 bytes of the region', (t) => {
  const { p, c } = ring(CAP - 8)
  p.close()
  t.is(
    c.read(() => t.fail()),
    0,
  )
  t.true(c.closed)
})

test('a failed tryWrite leaves no PAD behind; a staged PAD is invisible until publish', (t) => {
  const { p, c } = ring(CAP - 64)
  t.true(p.tryWrite(1, 1, fill(400, 1)), 'pad 64 + 408 at offset 0')
  t.true(p.tryWrite(1, 2, fill(200, 2)))
  t.true(p.tryWrite(1, 3, fill(200, 3)))
  t.is(p.stagedBytes, 64 + 408 + 208 + 208)
  t.is(
    c.read(() => t.fail()),
    0,
  )
  t.false(p.tryWrite(1, 4, fill(504, 4)), 'pad 200 + 512 does not fit: nothing written')
  t.is(p.stagedBytes, 888, 'no pad staged by the failed write')
  p.publish()
  t.deepEqual(
    readAll(
      t,
      c,
      new Map([
        [1, 1],
        [2, 2],
        [3, 3],
      ]),
    ).map((r) => r[0]),
    [0, 408, 616],
  )
  t.true(p.tryWrite(1, 4, fill(504, 4)), 'after release: pad 200 + 512 fits')
  p.publish()
  t.deepEqual(readAll(t, c, new Map([[4, 4]])), [[0, 504, 4]])
})

test('gather-write of many parts, including empty ones, lands contiguous across a pad', (t) => {
  const { p, c } = ring(CAP - 16)
  const parts = [fill(5, 1), new Uint8Array(0), fill(11, 2), fill(1, 3), new Uint8Array(0)]
  t.true(p.tryWrite(1, 1, parts))
  p.publish()
  const got: number[][] = []
  c.read((d) => {
    got.push([...d])
  })
  t.deepEqual(got, [[...fill(5, 1), ...fill(11, 2), ...fill(1, 3)]])
})
