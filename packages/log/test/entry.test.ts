// Parse once: appends encoded on another thread (entry.ts), and groups written before batches had
// name tables (no kFlagBatchNames) still read back after an upgrade.
import fs from 'node:fs'
import path from 'node:path'
import { crc32 } from 'node:zlib'
import test from 'ava'
import { crc32Combine } from '../src/crc32-combine.ts'
import { AppendEncoder, encodedBodyBytes, encodedRts } from '../src/entry.ts'
import {
  encodeSegmentHeader,
  kFlagNames,
  kGroupMagic,
  kGroupPrefixBytes,
  segmentName,
  Writer,
} from '../src/format.ts'
import { openLog, openReader } from '../src/index.ts'
import { body, nowUs, tmpDir } from './helpers.ts'

test('crc32Combine equals the CRC of the concatenation', (t) => {
  for (const [a, b] of [
    [0, 0],
    [0, 5],
    [7, 0],
    [1, 1],
    [100, 3000],
    [65_537, 129],
  ] as const) {
    const x = body(a, 3)
    const y = body(b, 11)
    t.is(crc32Combine(crc32(x), crc32(y), y.length), crc32(Buffer.concat([x, y])), `${a}+${b}`)
  }
})

test('appendEncoded stores what append stores; names map per append', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir)
  const rts = nowUs()
  const enc = new AppendEncoder()
  enc.begin(rts)
  enc.add('s.b', rts + 3, body(5, 1))
  enc.add('s.a', rts - 2, body(0, 0))
  enc.add('s.b', rts, body(3000, 2)) // big enough for the parser-side CRC (kParserCrcBytes)
  const [head, rec] = enc.finish(Buffer.from('m1'), Buffer.from('c'), 7n)
  const bytes = Buffer.concat([head, rec])
  t.is(encodedRts(bytes), rts)
  t.is(encodedBodyBytes(bytes), 3005)
  t.deepEqual(log.appendEncoded(bytes), { firstLsn: 1, lastLsn: 3 })
  // The same table again (cached ids), then a new name in a new order.
  t.deepEqual(log.appendEncoded(bytes), { firstLsn: 4, lastLsn: 6 })
  log.append({
    module: 'm2',
    core: '',
    seq: 1n,
    rts: rts + 1,
    records: [
      { stream: 's.c', ts: rts, body: body(2, 9) },
      { stream: 's.a', ts: rts, body: body(1, 9) },
    ],
  })
  t.is(log.moduleHwm('m1'), 7n)
  // A seq past 2^53 travels exactly (the encoder's fast path covers only safe integers).
  log.append({
    module: 'm3',
    core: '',
    seq: 2n ** 64n - 1n,
    rts,
    records: [{ stream: 's.a', ts: rts, body: body(1, 1) }],
  })
  t.is(log.moduleHwm('m3'), 2n ** 64n - 1n)
  await log.sync()
  await log.close()

  const reader = await openReader(dir)
  t.teardown(() => reader.close())
  const recs = await reader.cursor().read()
  t.deepEqual(
    recs.map((r) => [r.lsn, r.module, r.core, r.stream, r.ts, r.body.length]),
    [
      [1, 'm1', 'c', 's.b', rts + 3, 5],
      [2, 'm1', 'c', 's.a', rts - 2, 0],
      [3, 'm1', 'c', 's.b', rts, 3000],
      [4, 'm1', 'c', 's.b', rts + 3, 5],
      [5, 'm1', 'c', 's.a', rts - 2, 0],
      [6, 'm1', 'c', 's.b', rts, 3000],
      [7, 'm2', '', 's.c', rts, 2],
      [8, 'm2', '', 's.a', rts, 1],
      [9, 'm3', '', 's.a', rts, 1],
    ],
  )
  t.deepEqual(recs[2]!.body, body(3000, 2))
  t.deepEqual(
    (await reader.cursor({ streams: ['s.a'] }).read()).map((r) => r.lsn),
    [2, 5, 8, 9],
  )
})

test('a malformed encoded append is refused with a coded error and changes nothing', async (t) => {
  const log = await openLog(tmpDir(t))
  t.teardown(() => log.close())
  t.throws(() => log.appendEncoded(new Uint8Array(10)), { code: 'MI_ERR_LOG_APPEND_INVALID' })
  const enc = new AppendEncoder()
  enc.begin(nowUs())
  enc.add('s', 1, body(3, 1))
  const [head] = enc.finish('m', '', 1n)
  t.throws(() => log.appendEncoded(head.subarray(0, head.length - 2)), { code: 'MI_ERR_LOG_APPEND_INVALID' })
  t.is(log.stats().lastAppendedLsn, 0)
})

/** A segment as the log wrote it before batches had name tables (catalog ids in every record). */
function legacySegment(rts: number): Buffer {
  const w = new Writer(256)
  w.u8(kGroupMagic | kFlagNames)
  w.varint(1) // baseLsn
  w.varint(2) // count
  w.varint(rts)
  w.varint(1) // firstId
  w.varint(2)
  for (const n of ['old.m', 'old.s']) {
    w.varint(n.length)
    w.bytes(Buffer.from(n))
  }
  // batch: module 1, core 0, seq 9, rts + 0, 2 records of stream 2
  w.varint(1)
  w.varint(0)
  w.u64(9n)
  w.zigzag(0)
  w.varint(2)
  for (const b of [body(4, 1), body(6, 2)]) {
    w.varint(2)
    w.zigzag(-1)
    w.varint(b.length)
    w.bytes(b)
  }
  const payload = w.buf.subarray(0, w.pos)
  const prefix = Buffer.alloc(kGroupPrefixBytes)
  prefix.writeUInt32LE(payload.length, 0)
  prefix.writeUInt32LE(crc32(payload), 4)
  return Buffer.concat([encodeSegmentHeader(1), prefix, payload])
}

test('a log written before name tables opens, reads back and takes new appends', async (t) => {
  const dir = tmpDir(t)
  const rts = nowUs()
  fs.writeFileSync(path.join(dir, segmentName(1)), legacySegment(rts))
  const log = await openLog(dir)
  t.is(log.durableLsn, 2)
  t.is(log.moduleHwm('old.m'), 9n)
  log.append({
    module: 'old.m',
    core: '',
    seq: 10n,
    rts,
    records: [{ stream: 'new.s', ts: rts, body: body(1, 5) }],
  })
  await log.sync()
  await log.close()
  const reopened = await openLog(dir)
  t.is(reopened.durableLsn, 3)
  await reopened.close()
  const reader = await openReader(dir)
  t.teardown(() => reader.close())
  const recs = await reader.cursor().read()
  t.deepEqual(
    recs.map((r) => [r.lsn, r.module, r.stream, r.seq, r.ts]),
    [
      [1, 'old.m', 'old.s', 9n, rts - 1],
      [2, 'old.m', 'old.s', 9n, rts - 1],
      [3, 'old.m', 'new.s', 10n, rts],
    ],
  )
  t.deepEqual(recs[1]!.body, body(6, 2))
})
