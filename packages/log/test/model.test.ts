// Seeded model test (after vector's disk_v2 model tests): random append / sync / crash / reopen /
// read sequences against an in-memory model. Prints the seed on failure: rerun with MI_SEED=<seed>.

import { seededRandom } from '@module-ingest/testing/random'
import test from 'ava'
import { crash, openLog, openReader, type StoredRecord } from '../src/internal.ts'
import { tmpDir } from './helpers.ts'

interface ModelRec {
  stream: string
  module: string
  core: string
  seq: bigint
  ts: number | bigint
  rts: number
  body: string
  batchEnd: boolean
}

// Offsets up to 999 are added: every one stays a u64 above 2^53-1.
const kHugeTs = [2n ** 53n, 2n ** 63n, 2n ** 64n - 1000n, 2n ** 60n + 7n] as const

const runs = process.env.MI_SOAK === '1' ? 60 : 6
const base = Number(process.env.MI_SEED ?? Date.now() % 1_000_000)

for (let k = 0; k < runs; k++) {
  const seed = base + k
  test(`model run seed=${seed}`, async (t) => {
    t.log(`seed ${seed} (MI_SEED=${seed} to replay)`)
    const rand = seededRandom(seed)
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!
    const dir = tmpDir(t)
    const options = {
      segmentSizeBytes: pick([4096, 8192, 65536]),
      indexIntervalBytes: pick([512, 2048]),
      compression: pick(['none', 'zstd'] as const),
      groupCommitMaxBytes: pick([1024, 65536]),
      checkpointIntervalBytes: pick([1, 4096, 1 << 30]),
    }
    let log = await openLog(dir, options)
    const model: ModelRec[] = []
    let durable = 0
    log.onDurable((l) => {
      durable = l
    })
    const hwm = new Map<string, bigint>()
    let rts = 1_700_000_000_000_000
    try {
      for (let step = 0; step < 250; step++) {
        const op = rand()
        if (process.env.MI_TRACE) console.error(step, op.toFixed(2), model.length, log.durableLsn)
        if (op < 0.7) {
          const module = pick(['a', 'b', 'c', 'd'])
          const seq = (hwm.get(module) ?? 0n) + 1n + BigInt(Math.floor(rand() * 3))
          hwm.set(module, seq)
          const n = rand() < 0.6 ? 1 : 1 + Math.floor(rand() * 6)
          rts += Math.floor(rand() * 1000)
          const core = pick(['', 'x', 'y'])
          const records = Array.from({ length: n }, (_, i) => ({
            stream: pick(['s1', 's2', 's3']),
            // Now and then a u64 ts above 2^53-1: its group is kFlagTs64 and must read back exact.
            ts:
              rand() < 0.08
                ? pick(kHugeTs) + BigInt(Math.floor(rand() * 1000))
                : rts - Math.floor(rand() * 5000) + 2500,
            body: `${seed}:${model.length + i}:${'z'.repeat(Math.floor(rand() * 400))}`,
          }))
          const res = log.append({
            module,
            core,
            seq,
            rts,
            records: records.map((r) => ({ ...r, body: Buffer.from(r.body) })),
          })
          t.is(res.firstLsn, model.length + 1)
          records.forEach((r, i) => {
            model.push({ ...r, module, core, seq, rts, batchEnd: i === n - 1 })
          })
          t.is(res.lastLsn, model.length)
        } else if (op < 0.8) {
          await log.sync()
          t.is(log.durableLsn, model.length)
        } else if (op < 0.85) {
          await new Promise((r) => setTimeout(r, Math.floor(rand() * 3)))
        } else if (op < 0.9) {
          // crash: what was durable must survive; what survives is a batch-aligned prefix.
          const acked = durable
          crash(log)
          log = await openLog(dir, options)
          const kept = log.durableLsn
          t.true(kept >= acked, `kept ${kept} ≥ acked ${acked}`)
          t.true(kept <= model.length)
          t.true(kept === 0 || model[kept - 1]!.batchEnd, 'batch all-or-nothing')
          model.length = kept
          hwm.clear()
          for (const r of model) if ((hwm.get(r.module) ?? 0n) < r.seq) hwm.set(r.module, r.seq)
          for (const m of ['a', 'b', 'c', 'd']) t.is(log.moduleHwm(m), hwm.get(m) ?? 0n)
          durable = kept
          log.onDurable((l) => {
            durable = l
          })
        } else if (op < 0.93) {
          await log.close()
          log = await openLog(dir, options)
          t.is(log.durableLsn, model.length)
          durable = model.length
          log.onDurable((l) => {
            durable = l
          })
        } else {
          // read: random start and stream filter; only durable records, matching the model
          await log.sync()
          const reader = await openReader(dir)
          const from = 1 + Math.floor(rand() * (model.length + 1))
          const streams = rand() < 0.3 ? [pick(['s1', 's2', 's3'])] : undefined
          const c = reader.cursor({ fromLsn: from, ...(streams ? { streams } : {}) })
          const got: StoredRecord[] = []
          for (;;) {
            const r = await c.read({
              maxRecords: 1 + Math.floor(rand() * 50),
              maxBytes: 1 + Math.floor(rand() * 20000),
            })
            if (r.length === 0) break
            got.push(...r)
          }
          const want = model
            .map((m, i) => ({ ...m, lsn: i + 1 }))
            .filter((m) => m.lsn >= from && (!streams || streams.includes(m.stream)))
          t.is(got.length, want.length)
          for (let i = 0; i < want.length; i++) {
            const g = got[i]!
            const w = want[i]!
            t.deepEqual(
              [g.lsn, g.stream, g.module, g.core, g.seq, g.ts, g.rts, Buffer.from(g.body).toString()],
              [w.lsn, w.stream, w.module, w.core, w.seq, w.ts, w.rts, w.body],
            )
          }
          // time positioning: never skips a record at or after the requested receive time
          if (model.length > 0) {
            const tpos = model[Math.floor(rand() * model.length)]!.rts
            const tc = reader.cursor({ fromTimeUs: tpos })
            const first = (await tc.read({ maxRecords: 1 }))[0]
            const expect = model.findIndex((m) => m.rts >= tpos) + 1
            t.is(first?.lsn, expect)
          }
          await reader.close()
        }
      }
      await log.close()
    } catch (err) {
      t.log(`FAILED with seed ${seed}; options ${JSON.stringify(options)}`)
      throw err
    }
    if (!t.passed) t.log(`FAILED with seed ${seed}; options ${JSON.stringify(options)}`)
  })
}
