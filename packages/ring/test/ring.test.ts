import test from 'ava'
import {
  CONTROL_BYTES,
  createRing,
  MI_ERR_RING_BUFFER_INVALID,
  MI_ERR_RING_CAPACITY_INVALID,
  MI_ERR_RING_CLOSED,
  MI_ERR_RING_KIND_INVALID,
  MI_ERR_RING_RECORD_TOO_LARGE,
  MI_ERR_RING_TAG_INVALID,
  RingConsumer,
  RingProducer,
} from '../src/internal.ts'

interface Rec {
  kind: number
  tag: number
  data: number[]
}

function drain(c: RingConsumer, max?: number): Rec[] {
  const out: Rec[] = []
  c.read((data, kind, tag) => {
    out.push({ kind, tag, data: [...data] })
  }, max)
  c.release()
  return out
}

function bytes(n: number, seed = n): Uint8Array {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (seed + i * 7) & 0xff
  return b
}

test('round trip: kind, full 32-bit tag, payload, zero-length record', (t) => {
  const sab = createRing(4096)
  const p = new RingProducer(sab)
  const c = new RingConsumer(sab)
  t.true(p.tryWrite(0, 0xffffffff, bytes(5)))
  t.true(p.tryWrite(254, 0, new Uint8Array(0)))
  t.true(p.tryWrite(7, 123456789, [bytes(3, 1), bytes(0), bytes(20, 2)]))
  t.deepEqual(drain(c), [], 'staged records are invisible before publish()')
  p.publish()
  t.deepEqual(drain(c), [
    { kind: 0, tag: 0xffffffff, data: [...bytes(5)] },
    { kind: 254, tag: 0, data: [] },
    { kind: 7, tag: 123456789, data: [...bytes(3, 1), ...bytes(20, 2)] },
  ])
  t.is(c.usedBytes, 0)
  t.deepEqual(drain(c), [])
})

test('views are zero-copy into the ring; read stops early on false and at maxRecords', (t) => {
  const sab = createRing(4096)
  const p = new RingProducer(sab)
  const c = new RingConsumer(sab)
  for (let i = 0; i < 10; i++) p.tryWrite(1, i, bytes(8, i))
  p.publish()
  let seen: Uint8Array | undefined
  t.is(
    c.read((d) => {
      seen = d
    }, 1),
    1,
  )
  t.is(seen!.buffer, sab)
  t.is(seen!.byteOffset, CONTROL_BYTES + 8)
  const tags: number[] = []
  t.is(
    c.read((_d, _k, tag) => {
      tags.push(tag)
      return tag !== 4
    }),
    4,
  )
  t.deepEqual(tags, [1, 2, 3, 4])
  t.is(
    c.read(() => {}, 3),
    3,
  )
  t.is(
    c.read(() => {}),
    2,
  )
  t.is(
    c.read(() => {}),
    0,
  )
})

test('a visitor that throws consumes its record (no poison-pill loop)', (t) => {
  const sab = createRing(4096)
  const p = new RingProducer(sab)
  const c = new RingConsumer(sab)
  p.tryWrite(1, 1, bytes(1))
  p.tryWrite(1, 2, bytes(1))
  p.publish()
  t.throws(() =>
    c.read(() => {
      throw new Error('boom')
    }),
  )
  t.deepEqual(
    drain(c).map((r) => r.tag),
    [2],
  )
})

test('validation: capacity, buffer, kind, tag, record size, closed', (t) => {
  for (const bad of [0, 1000, 2 ** 31, 4096.5, Number.NaN]) {
    t.throws(() => createRing(bad), { instanceOf: MI_ERR_RING_CAPACITY_INVALID })
  }
  t.throws(() => new RingProducer(new SharedArrayBuffer(4096)), { instanceOf: MI_ERR_RING_BUFFER_INVALID })
  t.throws(() => new RingConsumer(new ArrayBuffer(8192) as unknown as SharedArrayBuffer), {
    instanceOf: MI_ERR_RING_BUFFER_INVALID,
  })
  const sab = createRing(3000) // rounded up to 4096
  const p = new RingProducer(sab)
  t.is(p.maxRecordBytes, 2048 - 8)
  for (const kind of [-1, 255, 256, 1.5, Number.NaN]) {
    t.throws(() => p.tryWrite(kind, 0, bytes(1)), { instanceOf: MI_ERR_RING_KIND_INVALID })
  }
  for (const tag of [-1, 2 ** 32, 0.5, Number.NaN]) {
    t.throws(() => p.tryWrite(0, tag, bytes(1)), { instanceOf: MI_ERR_RING_TAG_INVALID })
  }
  const err = t.throws(() => p.tryWrite(0, 0, bytes(p.maxRecordBytes + 1)), {
    instanceOf: MI_ERR_RING_RECORD_TOO_LARGE,
  })
  t.is(err?.code, 'MI_ERR_RING_RECORD_TOO_LARGE')
  t.true(p.tryWrite(0, 0, bytes(p.maxRecordBytes)))
  p.close()
  t.throws(() => p.tryWrite(0, 0, bytes(1)), { instanceOf: MI_ERR_RING_CLOSED })
})

test('full ring: tryWrite returns false without side effects, succeeds after release', (t) => {
  const sab = createRing(1024)
  const p = new RingProducer(sab)
  const c = new RingConsumer(sab)
  let n = 0
  while (p.tryWrite(1, n, bytes(56, n))) n++
  // 64-byte records: 1024 - 8 reserved for END leaves 15 records.
  t.is(n, 15)
  t.is(p.freeBytes, 1024 - 8 - 15 * 64)
  t.false(p.tryWrite(1, 99, bytes(56)), 'needs 64, 56 free')
  t.true(p.tryWrite(1, 15, bytes(48, 15)), 'needs 56: fits exactly')
  t.is(p.freeBytes, 0)
  t.false(p.tryWrite(1, 99, bytes(0)))
  p.publish()
  t.is(
    c.read(() => {}, 1),
    1,
  )
  t.false(p.tryWrite(1, 99, bytes(0)), 'read but not released: still occupied')
  c.release()
  // 8 bytes of tail left: a 64-byte record needs a PAD (8) + 64 but only 64 were released.
  t.false(p.tryWrite(1, 16, bytes(56, 16)))
  t.is(
    c.read(() => {}, 1),
    1,
  )
  c.release()
  t.true(p.tryWrite(1, 16, bytes(56, 16)))
  p.publish()
  const got = drain(c)
  t.deepEqual(
    got.map((r) => r.tag),
    Array.from({ length: 15 }, (_, i) => i + 2),
  )
  for (const r of got) t.deepEqual(r.data, [...bytes(r.tag === 15 ? 48 : 56, r.tag)])
})

test('close: consumer drains every record, then reports closed exactly once drained', (t) => {
  const sab = createRing(1024)
  const p = new RingProducer(sab)
  const c = new RingConsumer(sab)
  p.tryWrite(1, 1, bytes(4))
  p.publish()
  p.tryWrite(1, 2, bytes(4)) // staged: close() publishes it
  p.close()
  t.true(p.closed)
  t.false(c.closed)
  t.is(
    c.read(() => {}, 1),
    1,
  )
  t.false(c.closed)
  t.is(
    c.read(() => {}),
    1,
  )
  t.true(c.closed)
  t.is(c.wait(0), 'closed')
  t.is(
    c.read(() => {}),
    0,
  )
})

test('close fits even when the ring is as full as tryWrite allows', (t) => {
  const sab = createRing(1024)
  const p = new RingProducer(sab)
  const c = new RingConsumer(sab)
  let n = 0
  while (p.tryWrite(1, n, bytes(0))) n++
  t.is(n, (1024 - 8) / 8)
  p.close()
  t.is(
    c.read(() => {}),
    n,
  )
  t.true(c.closed)
})
