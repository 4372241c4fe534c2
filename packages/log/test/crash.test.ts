// SIGKILL a real writer process at random moments; every acknowledged (durable) record must
// survive intact, BATCHes must be all-or-nothing, and nothing partial may be visible.
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { openLog, openReader, type StoredRecord, verifyLog } from '../src/index.ts'
import { tmpDir } from './helpers.ts'

const here = path.dirname(fileURLToPath(import.meta.url))
const soak = process.env.MI_SOAK === '1'

/** Run the writer fixture until it has acked something, then SIGKILL it after a random delay. */
export async function runAndKill(
  dir: string,
  seed: number,
  delayMs: number,
  extra: string[] = [],
): Promise<number> {
  const child = spawn(
    process.execPath,
    [path.join(here, 'fixtures/_writer.ts'), dir, String(seed), ...extra],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  let acked = 0
  let buf = ''
  let armed = false
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString()
    let nl = buf.indexOf('\n')
    while (nl >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      if (line.startsWith('D ')) acked = Math.max(acked, Number(line.slice(2)))
      if (line.startsWith('D ') && !armed) {
        armed = true
        setTimeout(() => child.kill('SIGKILL'), delayMs)
      }
      nl = buf.indexOf('\n')
    }
  })
  await exited
  return acked
}

export function checkRecords(t: import('ava').ExecutionContext, recs: StoredRecord[]): void {
  let i = 0
  while (i < recs.length) {
    const r = recs[i]!
    t.is(r.lsn, i + 1, 'lsns are dense from 1')
    const text = Buffer.from(r.body).toString()
    const m = /^([^:]+):(\d+):(\d+)\/(\d+)\|(x*)$/.exec(text)
    if (!m) {
      t.fail(`record ${r.lsn} has a bad body: ${text.slice(0, 60)}`)
      return
    }
    const n = Number(m[4])
    t.is(Number(m[3]), 0, `lsn ${r.lsn} starts a batch`)
    // the whole batch is present, contiguous and intact
    for (let k = 0; k < n; k++) {
      const q = recs[i + k]
      if (!q) {
        t.fail(`batch at lsn ${r.lsn} is partial (${k}/${n})`)
        return
      }
      t.is(Buffer.from(q.body).toString().split('|')[0], `${m[1]}:${m[2]}:${k}/${n}`)
      t.is(q.module, m[1]!)
      t.is(q.seq, BigInt(m[2]!))
      t.is(q.stream, `s${k % 3}`)
      if (q.seq % 4n === 0n)
        t.is(q.ts, 2n ** 64n - 1n - q.seq * 16n - BigInt(k), 'a ts above 2^53-1 is exact')
      else t.is(typeof q.ts, 'number')
    }
    i += n
  }
}

async function readAll(dir: string): Promise<StoredRecord[]> {
  const reader = await openReader(dir)
  const c = reader.cursor()
  const all: StoredRecord[] = []
  for (;;) {
    const got = await c.read({ maxRecords: 5000 })
    if (got.length === 0) break
    all.push(...got)
  }
  await reader.close()
  return all
}

for (const [compression, rounds] of [
  ['none', soak ? 200 : 10],
  ['zstd', soak ? 50 : 5],
] as const) {
  test(`SIGKILL at random moments loses no acknowledged record (${compression})`, async (t) => {
    const dir = tmpDir(t)
    let seed = Number(process.env.MI_SEED ?? Date.now() % 100000)
    t.log(`seed ${seed}`)
    let prevAcked = 0
    for (let round = 0; round < rounds; round++) {
      const delay = (seed * 7919 + round * 104729) % 250
      const acked = await runAndKill(dir, seed + round, delay, ['65536', compression])
      t.true(acked >= prevAcked)
      const log = await openLog(dir)
      const report = log.stats().recovery
      t.deepEqual(report.corruptions, [], `round ${round}: no corruption`)
      t.true(
        log.durableLsn >= acked,
        `round ${round}: durable ${log.durableLsn} covers acked ${acked} (seed ${seed})`,
      )
      await log.close()
      const recs = await readAll(dir)
      t.is(recs.length, log.durableLsn)
      checkRecords(t, recs)
      // high-water marks cover every durable seq
      const log2 = await openLog(dir)
      const max = new Map<string, bigint>()
      for (const r of recs) if ((max.get(r.module) ?? 0n) < r.seq) max.set(r.module, r.seq)
      for (const [m, s] of max) t.is(log2.moduleHwm(m), s)
      await log2.close()
      prevAcked = log.durableLsn
    }
    const v = await verifyLog(dir)
    t.true(v.ok)
    // How far the rounds got depends on the machine's speed; say so rather than assert it.
    t.log(`${v.segments.length} segment(s) after ${rounds} rounds`)
    seed++
  })
}
