// Timestamps above 2^53-1 (index.ts "Timestamps above 2^53"): any u64 ts is stored and read back
// exactly; only a group holding one is written with kFlagTs64, which older builds refuse.
import fs from 'node:fs'
import path from 'node:path'
import test from 'ava'
import { AppendEncoder } from '../src/entry.ts'
import { checkGroup, kFlagTs64, kGroupMagic, kSegmentHeaderBytes, segmentName } from '../src/format.ts'
import { openLog, openReader, type StoredRecord, verifyLog } from '../src/index.ts'
import { readSegment } from '../src/raw.ts'
import { body, nowUs, tmpDir } from './helpers.ts'

const kHuge = [2n ** 53n, 2n ** 63n, 2n ** 64n - 1n] as const

async function readAll(dir: string): Promise<StoredRecord[]> {
  const reader = await openReader(dir)
  const c = reader.cursor()
  const out: StoredRecord[] = []
  for (let got = await c.read(); got.length > 0; got = await c.read()) out.push(...got)
  await reader.close()
  return out
}

/** The flags byte of every group of the first segment. */
function groupFlags(dir: string): number[] {
  const seg = fs.readFileSync(path.join(dir, segmentName(1)))
  const flags: number[] = []
  for (let pos = kSegmentHeaderBytes; pos < seg.length; ) {
    const c = checkGroup(seg, pos, 0)
    if (!c.ok) throw new Error(c.reason)
    flags.push(c.header.flags)
    pos += c.header.totalBytes
  }
  return flags
}

for (const compression of ['none', 'zstd'] as const) {
  test(`u64 ts read back exactly: append, appendEncoded, mixed groups, reopen (${compression})`, async (t) => {
    const dir = tmpDir(t)
    let log = await openLog(dir, { compression })
    const rts = nowUs()
    // A group of normal ts only, then one that mixes normal and huge ts (both append paths).
    log.append({
      module: 'm',
      core: '',
      seq: 1n,
      rts,
      records: [{ stream: 's', ts: rts - 5, body: body(3, 1) }],
    })
    await log.sync()
    log.append({
      module: 'm',
      core: 'c',
      seq: 2n,
      rts,
      records: [
        { stream: 's', ts: 0, body: body(300, 2) },
        ...kHuge.map((ts, i) => ({ stream: 's', ts, body: body(300, 3 + i) })),
        // A bigint that fits is stored, and read back, as the number it is.
        { stream: 's2', ts: 7n, body: body(1, 9) },
      ],
    })
    const enc = new AppendEncoder()
    enc.begin(rts)
    enc.add('s', 2n ** 64n - 1n, body(2, 7))
    enc.add('s', rts + 1, body(2, 8))
    log.appendEncoded(Buffer.concat(enc.finish('m', '', 3n)))
    await log.sync()
    // The next group has only normal ts again: no flag.
    log.append({ module: 'm', core: '', seq: 4n, rts, records: [{ stream: 's', ts: 1, body: body(1, 1) }] })
    await log.close()

    const want = [rts - 5, 0, ...kHuge, 7, 2n ** 64n - 1n, rts + 1, 1]
    const check = (recs: readonly StoredRecord[], how: string) =>
      t.deepEqual(
        recs.map((r) => r.ts),
        want,
        how,
      )
    check(await readAll(dir), 'cursor')
    const f = groupFlags(dir)
    t.is(f.length, 3)
    t.is(f[0]! & kFlagTs64, 0, 'a group without a huge ts has no flag')
    t.is(f[1]! & 0xf0, kGroupMagic | kFlagTs64, 'older builds check (flags & 0xf0) === 0xa0: they refuse it')
    t.is(f[2]! & kFlagTs64, 0)
    const scanned: StoredRecord[] = []
    for await (const g of readSegment(dir, 1)) scanned.push(...g.records)
    check(scanned, 'raw scan (recover-dump dump/export)')
    t.true((await verifyLog(dir)).ok)
    log = await openLog(dir, { compression }) // recovery scans the flagged group
    log.append({
      module: 'm',
      core: '',
      seq: 5n,
      rts,
      records: [{ stream: 's', ts: 2n ** 63n + 1n, body: body(1, 1) }],
    })
    await log.close()
    t.deepEqual((await readAll(dir)).at(-1)?.ts, 2n ** 63n + 1n)
  })
}

test('a group with an unknown low flag bit (a newer build) is refused as damage, not misread', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir)
  const rts = nowUs()
  log.append({ module: 'm', core: '', seq: 1n, rts, records: [{ stream: 's', ts: rts, body: body(10, 1) }] })
  await log.close()
  const file = path.join(dir, segmentName(1))
  const seg = fs.readFileSync(file)
  seg[kSegmentHeaderBytes + 8]! |= 0x08
  const c = checkGroup(seg, kSegmentHeaderBytes, 0, false)
  t.false(c.ok)
  t.regex(c.ok ? '' : c.reason, /unknown group flags 0xa[c-f]/)
})

test('append rejects a ts outside u64 and an unsafe number', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir)
  const rts = nowUs()
  for (const ts of [2n ** 64n, -1n, 2 ** 53, 1.5])
    t.throws(
      () =>
        log.append({ module: 'm', core: '', seq: 1n, rts, records: [{ stream: 's', ts, body: body(1, 1) }] }),
      {
        code: 'MI_ERR_LOG_APPEND_INVALID',
      },
    )
  await log.close()
})
