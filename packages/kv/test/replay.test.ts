/**
 * Snapshot + replay equals a full replay: the store file copied at any delivery boundary, reopened,
 * and fed the log from an earlier point (redelivery) ends in exactly the state of one store fed
 * everything, however the log is cut into deliveries (transactions split across them included).
 */
import { deepStrictEqual } from 'node:assert/strict'
import { copyFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import type { KvOp } from '@module-ingest/kv-protocol'
import test from 'ava'
import fc from 'fast-check'
import { KvStore } from '../src/store.ts'
import { LogSim, T0, tempDir } from './_helpers.ts'

const key = fc.constantFrom('a', 'b', 'c', 'd')
const rev = fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined })
const ttl = fc.option(fc.integer({ min: 1, max: 5000 }), { nil: undefined })
const jsonValue = fc.oneof(fc.integer(), fc.string({ maxLength: 5 }), fc.boolean(), fc.constant(null))
const value = fc.oneof(
  fc.string({ maxLength: 8 }).map((v) => ({ type: 'string' as const, value: v })),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((v) => ({ type: 'int' as const, value: v })),
  fc.boolean().map((v) => ({ type: 'bool' as const, value: v })),
  fc.dictionary(fc.constantFrom('x', 'y'), jsonValue).map((v) => ({ type: 'json' as const, value: v })),
  fc.array(jsonValue, { maxLength: 3 }).map((v) => ({ type: 'list' as const, value: v })),
)
const withOpt = <T extends object>(o: T, r: number | undefined, t?: number) => ({
  ...o,
  ...(r === undefined ? {} : { rev: r }),
  ...(t === undefined ? {} : { ttlMs: t }),
})
const op: fc.Arbitrary<KvOp> = fc.oneof(
  fc
    .tuple(key, value, rev, ttl)
    .map(([k, v, r, t]) => withOpt({ op: 'set' as const, key: k, value: v }, r, t)),
  fc
    .tuple(key, fc.option(fc.constantFrom('x', 'y'), { nil: undefined }), jsonValue, rev)
    .map(([k, f, v, r]) =>
      withOpt(
        f === undefined
          ? { op: 'hset' as const, key: k, value: { z: v } }
          : { op: 'hset' as const, key: k, field: f, value: v },
        r,
      ),
    ),
  fc
    .tuple(
      key,
      fc.constantFrom('push', 'unshift', 'pop', 'shift', 'set', 'remove' as const),
      jsonValue,
      rev,
      ttl,
    )
    .map(([k, a, v, r, t]) =>
      withOpt(
        {
          op: 'lset' as const,
          key: k,
          action: a,
          ...(a === 'set' || a === 'remove' ? { index: 0 } : {}),
          ...(a === 'push' || a === 'unshift' || a === 'set' ? { value: v } : {}),
        },
        r,
        t,
      ),
    ),
  fc.tuple(key, rev).map(([k, r]) => withOpt({ op: 'del' as const, key: k }, r)),
)
const frame = fc.record({
  ns: fc.constantFrom('n1', 'n2'),
  ops: fc.array(op, { minLength: 1, maxLength: 3 }),
  dtMs: fc.integer({ min: 0, max: 3000 }),
})

test('snapshot + replay equals full replay (property)', async (t) => {
  t.timeout(180_000, 'each run opens several SQLite files on a loaded machine')
  const dir = tempDir(t)
  let run = 0
  fc.assert(
    fc.property(
      fc.array(frame, { minLength: 1, maxLength: 25 }),
      fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 10 }),
      fc.nat(),
      fc.nat(),
      (frames, cuts, snapAt, back) => {
        run++
        const log = new LogSim()
        let now = T0
        for (const f of frames) {
          now += f.dtMs
          log.frame(f.ns, f.ops, now)
        }
        const recs = log.records
        const opts = { synchronous: 'normal' as const, sweepIntervalMs: 500, historyPerKey: 3 }
        // Full replay: everything in one delivery.
        const full = new KvStore(join(dir, `full-${run}.sqlite`), opts)
        full.apply(recs)
        // Cut the log into deliveries; snapshot (copy the file) after delivery `snapAt`.
        const ends: number[] = []
        let pos = 0
        for (let i = 0; pos < recs.length; i++) {
          pos = Math.min(recs.length, pos + cuts[i % cuts.length]!)
          ends.push(pos)
        }
        const snapIndex = snapAt % ends.length
        const livePath = join(dir, `live-${run}.sqlite`)
        const snapPath = join(dir, `snap-${run}.sqlite`)
        const live = new KvStore(livePath, opts)
        let from = 0
        ends.forEach((end, i) => {
          live.apply(recs.slice(from, end))
          from = end
          if (i === snapIndex) {
            live.db.exec('PRAGMA wal_checkpoint(TRUNCATE)')
            copyFileSync(livePath, snapPath)
            if (existsSync(`${livePath}-wal`)) copyFileSync(`${livePath}-wal`, `${snapPath}-wal`)
          }
        })
        live.close()
        // Recovery: open the snapshot and replay from some lsn at or below its applied lsn.
        const snap = new KvStore(snapPath, opts)
        const applied = snap.appliedLsn()
        const start = Math.max(0, applied - (back % 4))
        snap.apply(recs.slice(start))
        const clock = now
        const a = full.dump(clock)
        const b = snap.dump(clock)
        full.close()
        snap.close()
        deepStrictEqual(b, a)
        return true
      },
    ),
    {
      numRuns: Number(process.env.MI_SOAK ? 500 : 40),
      seed: process.env.MI_SEED ? Number(process.env.MI_SEED) : undefined,
    },
  )
  t.pass()
})
