// Power loss, not only SIGKILL: the writer runs on the fault-injecting file layer (fault-fs.ts).
// At a random moment the "power" goes: every byte not covered by a completed fdatasync of its
// file (and, for new names and renames, of its directory) is dropped, or torn at a random point.
// Then: every acknowledged record survives, BATCHes are all-or-nothing, nothing corrupt is
// served, and recovery never refuses what a real power cut could leave.
import fs from 'node:fs'
import path from 'node:path'
import { seededRandom } from '@module-ingest/testing/random'
import test from 'ava'
import {
  crash,
  FaultFs,
  type FlushPolicy,
  type Log,
  openLog,
  openReader,
  type StoredRecord,
  setFileLayer,
  setIo,
  verifyLog,
} from '../src/internal.ts'
import { tmpDir } from './helpers.ts'

const soak = process.env.MI_SOAK === '1'

async function readAll(dir: string): Promise<StoredRecord[]> {
  const reader = await openReader(dir)
  const c = reader.cursor()
  const all: StoredRecord[] = []
  for (;;) {
    const got = await c.read({ maxRecords: 5000 })
    if (got.length === 0) break
    for (const r of got) all.push(r)
  }
  await reader.close()
  return all
}

/** Every record is one we appended, and every batch is whole and contiguous. */
function check(t: import('ava').ExecutionContext, recs: StoredRecord[], round: number): void {
  let i = 0
  while (i < recs.length) {
    const r = recs[i]!
    if (r.lsn !== i + 1) return void t.fail(`round ${round}: lsn ${r.lsn} at position ${i}: not dense`)
    const m = /^([^:]+):(\d+):(\d+)\/(\d+)\|(x*)$/.exec(Buffer.from(r.body).toString())
    if (!m || Number(m[3]) !== 0) return void t.fail(`round ${round}: lsn ${r.lsn} does not start a batch`)
    const n = Number(m[4])
    for (let k = 0; k < n; k++) {
      const q = recs[i + k]
      const want = `${m[1]}:${m[2]}:${k}/${n}`
      if (
        !q ||
        Buffer.from(q.body).toString().split('|')[0] !== want ||
        q.module !== m[1] ||
        q.seq !== BigInt(m[2]!) ||
        (BigInt(m[2]!) % 4n === 0n ? q.ts !== hugeTs(q.seq, k) : typeof q.ts !== 'number')
      )
        return void t.fail(`round ${round}: batch at lsn ${r.lsn} is partial or mixed (${k}/${n})`)
    }
    i += n
  }
}

/** Every 4th seq's records carry a ts above 2^53-1 (kFlagTs64 groups): it must come back exact. */
function hugeTs(seq: bigint, i: number): bigint {
  return 2n ** 64n - 1n - seq * 16n - BigInt(i)
}

/** Append random DATA and BATCHes for `steps` event-loop rounds; returns the highest acked lsn. */
async function drive(log: Log, rand: () => number, steps: number): Promise<number> {
  let acked = log.durableLsn
  const off = log.onDurable((l) => {
    acked = Math.max(acked, l)
  })
  const modules = ['m.a', 'm.b', 'm.c', `m.${Math.floor(rand() * 1000)}`]
  for (let s = 0; s < steps; s++) {
    const k = 1 + Math.floor(rand() * 8)
    for (let j = 0; j < k; j++) {
      const module = modules[Math.floor(rand() * modules.length)]!
      const seq = log.moduleHwm(module) + 1n
      const n = rand() < 0.5 ? 1 : 1 + Math.floor(rand() * 8)
      const rts = Date.now() * 1000
      const records = []
      for (let i = 0; i < n; i++) {
        const pad = Math.floor(rand() * 300)
        records.push({
          stream: `s${i % 3}`,
          ts: seq % 4n === 0n ? hugeTs(seq, i) : rts - i,
          body: Buffer.from(`${module}:${seq}:${i}/${n}|${'x'.repeat(pad)}`),
        })
      }
      log.append({ module, core: rand() < 0.5 ? '' : 'core-1', seq, rts, records })
    }
    if (rand() < 0.3) await log.sync().catch(() => {})
    else await new Promise<void>((r) => setImmediate(r))
  }
  off()
  return acked
}

for (const flush of ['always', 'interval'] as const) {
  test.serial(
    `power loss at random moments: acked records survive, recovery never refuses (${flush})`,
    async (t) => {
      // MI_SOAK=1: 300 cuts per policy (run with `npx ava --timeout=30m test/power-loss.test.ts`).
      if (soak) t.timeout(30 * 60_000)
      const dir = tmpDir(t)
      const seed = Number(process.env.MI_SEED ?? Date.now() % 100000)
      t.log(`seed ${seed} (MI_SEED=${seed} reproduces)`)
      const rand = seededRandom(seed)
      const ffs = new FaultFs(dir)
      setFileLayer(ffs.layer)
      t.teardown(() => setFileLayer(undefined))
      const rounds = soak ? 300 : 25
      let acked = 0
      let committed: number | undefined
      const open = (): Promise<Log> =>
        openLog(dir, {
          flush: flush as FlushPolicy,
          flushIntervalMs: 5,
          segmentSizeBytes: 8 * 1024,
          checkpointIntervalBytes: 4 * 1024,
          indexIntervalBytes: 1024,
          compression: rand() < 0.3 ? 'zstd' : 'none',
        })
      for (let round = 0; round < rounds; round++) {
        let log: Log
        try {
          log = await open()
        } catch (err) {
          t.fail(`round ${round}: recovery refused a log a power cut can leave: ${(err as Error).message}`)
          return
        }
        const rep = log.stats().recovery
        t.deepEqual(rep.corruptions, [], `round ${round}: no corruption`)
        if (flush === 'always')
          t.true(log.durableLsn >= acked, `round ${round}: durable ${log.durableLsn} covers acked ${acked}`)
        const recs = await readAll(dir)
        t.is(recs.length, log.durableLsn, `round ${round}: every durable record is readable`)
        check(t, recs, round)
        const max = new Map<string, bigint>()
        for (const r of recs) if ((max.get(r.module) ?? 0n) < r.seq) max.set(r.module, r.seq)
        for (const [m, s] of max) t.is(log.moduleHwm(m), s, `round ${round}: hwm of ${m}`)
        // A consumer-group file is the old or the new offset after any cut, never torn or lost once
        // its commit returned (write-new + fsync + rename + fsync dir; groups/ synced in its parent).
        const gfile = path.join(dir, 'groups', 'g')
        if (committed !== undefined) {
          t.true(fs.existsSync(gfile), `round ${round}: a committed group survives`)
          const v = JSON.parse(fs.readFileSync(gfile, 'utf8')).nextLsn
          t.is(v, committed, `round ${round}: the group holds its last committed offset`)
        }
        if (rand() < 0.3) {
          const reader = await openReader(dir)
          committed = 1 + Math.floor(rand() * (log.durableLsn + 1))
          await reader.groups.commit('g', committed)
          await reader.close()
        }
        setIo(log, ffs)
        acked = await drive(log, rand, 1 + Math.floor(rand() * 40))
        await crash(log) // the writes it had issued complete (unsynced: the cut may drop them)
        ffs.powerLoss(rand)
      }
      const log = await open()
      await log.close()
      t.true((await verifyLog(dir)).ok)
      t.log(
        `${rounds} power cuts; layer saw ${ffs.counts.writes} writes, ${ffs.counts.syncs} syncs, ${ffs.counts.dirSyncs} dir syncs`,
      )
    },
  )
}
