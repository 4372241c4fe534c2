// Damage in durable data: what readers, recovery and the raw repair tools do about it.
import fs from 'node:fs'
import path from 'node:path'
import test from 'ava'
import { type Log, openLog, openReader, readSegment, type StoredRecord } from '../src/internal.ts'
import { body, nowUs, tmpDir } from './helpers.ts'

/** `n` single-record appends, a group commit (sync) every `every`. */
async function fill(log: Log, n: number, every = 10): Promise<void> {
  for (let i = 0; i < n; i++) {
    log.append({
      module: 'm',
      core: '',
      seq: log.moduleHwm('m') + 1n,
      rts: nowUs(),
      records: [{ stream: 's', ts: nowUs(), body: body(100, i) }],
    })
    if (i % every === every - 1) await log.sync()
  }
  await log.sync()
}

async function groups(dir: string, base = 1): Promise<{ offset: number; lsns: number[] }[]> {
  const out: { offset: number; lsns: number[] }[] = []
  for await (const g of readSegment(dir, base))
    out.push({ offset: g.offset, lsns: g.records.map((r) => r.lsn) })
  return out
}

function flipByte(file: string, at: number): void {
  const fd = fs.openSync(file, 'r+')
  const b = Buffer.alloc(1)
  fs.readSync(fd, b, 0, 1, at)
  b[0]! ^= 0x40
  fs.writeSync(fd, b, 0, 1, at)
  fs.closeSync(fd)
}

const seg1 = '00000000000000000001.seg'

test('reader: every record before a bad group is served, then MI_ERR_LOG_CORRUPT names segment + offset', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir)
  await fill(log, 100) // one segment, ten groups of ten, all in the reader's first 256 KiB chunk
  await log.close()
  const gs = await groups(dir)
  t.is(gs.length, 10)
  const bad = gs[6]!
  flipByte(path.join(dir, seg1), bad.offset + 20)

  for (const maxRecords of [1000, 7]) {
    const reader = await openReader(dir)
    const c = reader.cursor()
    const got: number[] = []
    let err: (Error & { code?: string }) | undefined
    for (;;) {
      try {
        const r = await c.read({ maxRecords })
        if (r.length === 0) break
        t.true(r.length <= maxRecords)
        got.push(...r.map((x) => x.lsn))
      } catch (e) {
        err = e as Error & { code?: string }
        break
      }
    }
    t.deepEqual(
      got,
      Array.from({ length: 60 }, (_, i) => i + 1),
      `maxRecords ${maxRecords}`,
    )
    t.is(err?.code, 'MI_ERR_LOG_CORRUPT')
    t.regex(err!.message, new RegExp(`${seg1} is corrupt at offset ${bad.offset}: crc mismatch`))
    t.is(c.nextLsn, 61, 'the cursor stands at the bad group')
    await t.throwsAsync(c.read(), { code: 'MI_ERR_LOG_CORRUPT' }, 'sticky')
    await reader.close()
  }
})

test('reader: a quarantined offset inside a chunk stops the chunk there, records before it are served', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir)
  await fill(log, 50)
  await log.close()
  const gs = await groups(dir)
  // Quarantine a group that is intact (e.g. found bad by another check): readers must not pass it.
  fs.writeFileSync(
    path.join(dir, 'quarantine.json'),
    JSON.stringify([{ segment: seg1, offset: gs[3]!.offset, reason: 'test', detectedAtMs: 0 }]),
  )
  const reader = await openReader(dir)
  const c = reader.cursor()
  const first: StoredRecord[] = await c.read()
  t.deepEqual(
    first.map((r) => r.lsn),
    Array.from({ length: 30 }, (_, i) => i + 1),
  )
  await t.throwsAsync(c.read(), {
    code: 'MI_ERR_LOG_CORRUPT',
    message: new RegExp(`offset ${gs[3]!.offset}`),
  })
  await reader.close()
})
