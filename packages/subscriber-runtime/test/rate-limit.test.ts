// The catch-up rate limit (pace.ts) in a real runtime: a backlog delivered under `rateLimit` stays
// within burst + rate × elapsed at every hand-over, and arrives whole, in order, exactly once.
// Upper bounds only: a slow machine delivers later, which cannot break them.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { openLog } from '@module-ingest/log'
import test, { type ExecutionContext } from 'ava'
import type { SubscriberConfig } from '../src/index.ts'
import { fixture, readLines, startOn, tempDir, waitFor } from './fixtures/_harness.ts'

/** `n` records of `bytes` each on one stream and module. */
async function writeBacklog(dir: string, n: number, bytes: number): Promise<void> {
  const w = await openLog(dir)
  for (let i = 0; i < n; i += 10) {
    const records = Array.from({ length: Math.min(10, n - i) }, (_, k) => ({
      stream: 's',
      ts: 1_700_000_000_000_000 + i + k,
      body: Buffer.from(`r${String(i + k).padStart(5, '0')}`.padEnd(bytes, '.')),
    }))
    w.append({ module: 'm', core: '', seq: BigInt(i / 10 + 1), rts: 1_700_000_000_000_000 + i, records })
  }
  await w.sync()
  await w.close()
}

/**
 * A runtime delivering the backlog in `dir` to one subscriber (batches of 10 records) under
 * `rateLimit`, writing what it handles to `out`; closed with the test.
 */
async function startPaced(
  t: ExecutionContext,
  dir: string,
  plugin: string,
  out: string,
  rateLimit: NonNullable<SubscriberConfig['rateLimit']>,
) {
  return startOn(t, dir, [
    {
      name: 'paced',
      use: fixture(plugin),
      options: { out },
      batch: { maxRecords: 10, maxBytes: 1 << 20, maxWaitMs: 20 },
      rateLimit,
    },
  ])
}

test('rateLimit: delivered bytes stay within burst + rate × elapsed; nothing lost or duplicated', async (t) => {
  const dir = tempDir(t)
  const n = 200
  await writeBacklog(dir, n, 1000)
  const out = join(dir, 'out.txt')
  const rate = 100_000
  const burst = 20_000
  const t0 = Date.now()
  // 'always': this backlog is the whole log, nothing arrives while it is caught up.
  const rt = await startPaced(t, dir, '_timed-plugin.ts', out, {
    bytesPerSec: rate,
    burstBytes: burst,
    when: 'always',
  })
  await waitFor('every record', () => readLines(out).length >= n)
  const elapsedMs = Date.now() - t0
  await rt.close()
  const [s] = rt.stats()
  t.deepEqual(
    readLines(out).map((l) => l.lsn),
    Array.from({ length: n }, (_, i) => i + 1),
    'every record once, in log order',
  )
  t.is(s!.delivered, n)
  // The bytes the limit counts (batch.maxBytes's measure), per record: the same for every record here.
  const perRecord = s!.deliveredBytes / s!.delivered
  let records = 0
  for (const line of readFileSync(`${out}.batches`, 'utf8').trim().split('\n')) {
    const [at, count] = line.split(' ').map(Number)
    records += count!
    const allowed = burst + (rate * (at! - t0)) / 1000
    t.true(
      records * perRecord <= allowed + perRecord,
      `${records * perRecord} bytes handed over by +${at! - t0} ms, allowed ${Math.round(allowed)}`,
    )
  }
  t.true(s!.rateLimitedMs > 0, 'the limit held batches back')
  // No faster than the limit allows (a lower bound on time: slowness only adds to it).
  t.true(elapsedMs >= ((n * perRecord - burst - perRecord * 10) / rate) * 1000)
})

test("rateLimit when 'ingesting': a backlog on an idle log is paced only in the first second", async (t) => {
  // Nothing is written after the start: the first look at the log's end counts as a move, so the
  // first second is paced, then nothing (with 'always' this backlog would wait ~3.6 s).
  const dir = tempDir(t)
  const n = 200
  await writeBacklog(dir, n, 1000)
  const out = join(dir, 'out.txt')
  const rt = await startPaced(t, dir, '_ok-plugin.ts', out, { bytesPerSec: 50_000, burstBytes: 10_000 })
  await waitFor('every record', () => readLines(out).length >= n)
  await rt.close()
  const [s] = rt.stats()
  t.deepEqual(
    readLines(out).map((l) => l.lsn),
    Array.from({ length: n }, (_, i) => i + 1),
  )
  // Waits are only asked for at hand-overs inside that first second; the last may run past it
  // by one batch's wait (~11 kB at 50 kB/s ≈ 220 ms). An upper bound: slowness cannot break it.
  t.true(s!.rateLimitedMs <= 1000 + 300, `${s!.rateLimitedMs} ms waited`)
})

test('rateLimit: bytesPerSec 0 turns it off; no wait is counted', async (t) => {
  const dir = tempDir(t)
  await writeBacklog(dir, 50, 1000)
  const out = join(dir, 'out.txt')
  const rt = await startPaced(t, dir, '_ok-plugin.ts', out, { bytesPerSec: 0, when: 'always' })
  await waitFor('every record', () => readLines(out).length >= 50)
  await rt.close()
  t.is(rt.stats()[0]!.rateLimitedMs, 0)
})
