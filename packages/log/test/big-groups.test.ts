// Issue 11 item 5: a group holding several pipelined 65,535-record BATCHes (~130k+ records) once
// overflowed the reader's stack (`records.push(...decodeGroup())`) and wedged every reader. Property
// test: random groups up to the configured maximum (`groupCommitMaxBytes`, plus the one append that
// crosses it) are read back whole by cursors, readSegment, verifyLog and recovery.

import { seededRandom } from '@module-ingest/testing/random'
import test from 'ava'
import { crash, openLog, openReader, readSegment, verifyLog } from '../src/internal.ts'
import { tmpDir } from './helpers.ts'

const soak = process.env.MI_SOAK === '1'
const kMaxBatch = 65_535 // MIP/1 BATCH record count limit

const cases = soak ? 12 : 3
for (let k = 0; k < cases; k++) {
  test(`groups up to groupCommitMaxBytes are read back whole (case ${k})`, async (t) => {
    const seed = Number(process.env.MI_SEED ?? Date.now() % 100000) + k
    t.log(`seed ${seed}`)
    const rand = seededRandom(seed)
    const dir = tmpDir(t)
    // Case 0 always hits the reported shape: six pipelined full BATCHes with 1-byte bodies.
    const maxBytes = k === 0 ? 4 * 1024 * 1024 : 1024 * 1024 * (1 + Math.floor(rand() * 3))
    const log = await openLog(dir, { groupCommitMaxBytes: maxBytes, segmentSizeBytes: 64 * 1024 * 1024 })
    const batches = k === 0 ? 6 : 1 + Math.floor(rand() * 6)
    let total = 0
    const rts = Date.now() * 1000
    const empty = new Uint8Array(0)
    const one = new Uint8Array([7])
    for (let b = 0; b < batches; b++) {
      const n = k === 0 ? kMaxBatch : 1 + Math.floor(rand() * kMaxBatch)
      const body = k === 0 || rand() < 0.5 ? one : empty
      const records = new Array(n)
      for (let i = 0; i < n; i++) records[i] = { stream: 's', ts: rts, body }
      // Same event-loop turn: one group (cut only when it reaches groupCommitMaxBytes).
      log.append({ module: `m${b % 2}`, core: '', seq: BigInt(b + 1), rts, records })
      total += n
    }
    await log.sync()
    t.is(log.durableLsn, total)

    const reader = await openReader(dir)
    const c = reader.cursor()
    let got = 0
    let expect = 1
    for (;;) {
      const r = await c.read({ maxRecords: 100_000, maxBytes: 64 * 1024 * 1024 })
      if (r.length === 0) break
      t.is(r[0]!.lsn, expect)
      expect = r.at(-1)!.lsn + 1
      got += r.length
    }
    t.is(got, total, 'cursor reads every record')
    await reader.close()

    let raw = 0
    for await (const g of readSegment(dir, 1)) raw += g.records.length
    t.is(raw, total, 'readSegment reads every record')
    t.true((await verifyLog(dir)).ok)

    crash(log) // recovery scans the big group(s) again
    const log2 = await openLog(dir)
    t.is(log2.durableLsn, total)
    t.is(log2.moduleHwm('m0'), BigInt(batches - ((batches - 1) % 2)))
    await log2.close()
  })
}
