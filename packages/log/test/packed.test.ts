// Packed records (packed.ts): packed on one thread, appended on another as one encoded append.
import test from 'ava'
import { openLog, openReader } from '../src/index.ts'
import {
  checkPacked,
  kNoRecords,
  PackedAppendEncoder,
  type PackedRecords,
  RecordPacker,
  unpackRecords,
} from '../src/packed.ts'
import { body, nowUs, tmpDir } from './helpers.ts'

// String bodies around the length-varint boundaries (the packer writes the text before it knows
// its UTF-8 length when n and 3n need the same varint width), multi-byte text, bytes, empty.
const kBodies: (string | Uint8Array)[] = [
  '{"score":1}',
  '',
  'x'.repeat(42),
  'x'.repeat(43),
  'x'.repeat(127),
  'x'.repeat(128),
  'é'.repeat(100),
  '€'.repeat(60),
  'x'.repeat(5461),
  'x'.repeat(5462),
  'a\u{1F600}b\uD800c', // a pair and a lone surrogate (written as U+FFFD, as Buffer.from does)
  body(3000, 7),
  body(0, 0),
]

function packAll(p: RecordPacker): PackedRecords {
  for (const [i, b] of kBodies.entries()) p.add(i % 3 === 2 ? 'ai.other' : 'ai.scores', b)
  return p.take()
}

const expected = () =>
  kBodies.map((b, i) => ({
    stream: i % 3 === 2 ? 'ai.other' : 'ai.scores',
    body: [...(typeof b === 'string' ? Buffer.from(b, 'utf8') : b)],
  }))

test('packed records unpack to what was added; take() starts over', (t) => {
  const packer = new RecordPacker()
  for (let round = 0; round < 2; round++) {
    const p = packAll(packer)
    t.is(p.length, kBodies.length)
    t.deepEqual(p.streams, ['ai.scores', 'ai.other'])
    t.is(p.records.byteOffset, 0)
    t.is(p.records.buffer.byteLength, p.records.length, 'a buffer of its own (transferable)')
    t.notThrows(() => checkPacked(p))
    const out = unpackRecords(p)
    t.deepEqual(
      out.map((r) => ({ stream: r.stream, body: [...r.body] })),
      expected(),
    )
    t.is(
      p.bodyBytes,
      out.reduce((a, r) => a + r.body.length, 0),
    )
  }
  t.is(packer.take(), kNoRecords)
})

test('packed records append as one unit: ts = the append rts, module and seq the appender chose', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir)
  const rts = nowUs()
  const packer = new RecordPacker()
  const p = packAll(packer)
  const enc = new PackedAppendEncoder()
  t.deepEqual(log.appendEncoded(enc.encode('mi:subscribers', '', 5n, rts, p)), {
    firstLsn: 1,
    lastLsn: kBodies.length,
  })
  // The same names block again (cached ids), then a plain append in between.
  log.append({
    module: 'm',
    core: 'c',
    seq: 1n,
    rts,
    records: [{ stream: 's', ts: rts - 1, body: body(2, 1) }],
  })
  packer.add('ai.scores', 'again')
  t.deepEqual(log.appendEncoded(enc.encode('mi:subscribers', '', 6n, rts + 1, packer.take())), {
    firstLsn: kBodies.length + 2,
    lastLsn: kBodies.length + 2,
  })
  t.is(log.moduleHwm('mi:subscribers'), 6n)
  await log.sync()
  await log.close()

  const reader = await openReader(dir)
  t.teardown(() => reader.close())
  const recs = await reader.cursor().read()
  t.deepEqual(
    recs.map((r) => ({ stream: r.stream, body: [...r.body] })),
    [
      ...expected(),
      { stream: 's', body: [...body(2, 1)] },
      { stream: 'ai.scores', body: [...Buffer.from('again')] },
    ],
  )
  t.deepEqual(
    recs.map((r) => [r.module, r.core, r.ts]),
    [...kBodies.map(() => ['mi:subscribers', '', rts]), ['m', 'c', rts - 1], ['mi:subscribers', '', rts + 1]],
  )
})

test('malformed packed records are refused with a coded error and change nothing', async (t) => {
  const log = await openLog(tmpDir(t))
  t.teardown(() => log.close())
  const packer = new RecordPacker()
  packer.add('s', 'abc')
  packer.add('t', body(200, 1))
  const good = packer.take()
  const bad: [string, PackedRecords][] = [
    ['empty', kNoRecords],
    ['count too high', { ...good, length: 3 }],
    ['count too low', { ...good, length: 1 }],
    ['bodyBytes', { ...good, bodyBytes: good.bodyBytes + 1 }],
    ['unknown stream index', { ...good, streams: ['s'] }],
    ['empty stream name', { ...good, streams: ['s', ''] }],
    ['long stream name', { ...good, streams: ['s', 'x'.repeat(1025)] }],
    ['truncated', { ...good, records: good.records.subarray(0, good.records.length - 1) }],
    ['trailing bytes', { ...good, records: Buffer.concat([good.records, Buffer.from([0])]) }],
  ]
  const tsNot0 = Buffer.from(good.records)
  tsNot0[1] = 2
  bad.push(['ts delta not 0', { ...good, records: tsNot0 }])
  const enc = new PackedAppendEncoder()
  for (const [why, p] of bad) {
    t.throws(
      () => log.appendEncoded(enc.encode('mi:x', '', 1n, nowUs(), p)),
      {
        code: 'MI_ERR_LOG_APPEND_INVALID',
      },
      why,
    )
  }
  t.is(log.stats().lastAppendedLsn, 0)
})
