// A batch built from log groups (index runs, some records filtered out) encodes to the same
// records the record cursor reads, through the worker's decoder.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GroupCursor, openLog, openReader } from '@module-ingest/log'
import test from 'ava'
import { Batch } from '../src/batch.ts'
import { decodeBatch } from '../src/internal.ts'

for (const compression of ['none', 'zstd'] as const) {
  test(`a batch of group runs encodes the records the cursor reads (${compression})`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'mi-subrt-batch-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const log = await openLog(dir, { compression })
    for (let i = 0; i < 40; i++) {
      log.append({
        module: `m${i % 3}`,
        core: i % 2 ? 'c' : '',
        seq: BigInt(Math.floor(i / 3) + 1),
        rts: 1_000_000 + i,
        records: Array.from({ length: 1 + (i % 5) }, (_, k) => ({
          stream: k % 3 === 0 ? 'drop' : `s.${k}`,
          ts: 2 ** 40 + i * 7 - k,
          body: Buffer.from(`r${i}.${k}`.repeat(k)),
        })),
      })
      if (i % 6 === 5) await log.sync()
    }
    await log.sync()
    await log.close()
    const reader = await openReader(dir)
    const c = reader.cursor()
    const want = (await c.read({ maxRecords: 10_000 })).filter((r) => r.stream !== 'drop' && r.lsn >= 5)
    c.close()
    const gc = new GroupCursor(reader, { fromLsn: 5 })
    const b = new Batch()
    for (const g of await gc.read({ maxRecords: 10_000 }))
      for (let i = g.first; i < g.count; i++) if (g.streams[g.stream[i]!] !== 'drop') b.add(g, i)
    gc.close()
    const plain = (rs: { body: Uint8Array }[]) =>
      rs.map((r) => ({ ...r, body: Buffer.from(r.body).toString() }))
    t.is(b.count, want.length)
    t.is(b.firstLsn, want[0]!.lsn)
    t.is(b.lastLsn, want.at(-1)!.lsn)
    t.deepEqual(plain(decodeBatch(await b.encode())), plain(want))
    t.deepEqual(plain(b.records()), plain(want))
    await reader.close()
  })
}
