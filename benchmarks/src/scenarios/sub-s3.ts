/**
 * The `s3` subscriber (packages/subscriber-s3) uploading to an S3-compatible store on loopback
 * (fauxqs from npm, in its own process, objects stored as files in memory: /dev/shm where there is
 * one, as a remote store is not on the host's disk; stores.ts storeDir) with ingest running: 1 KiB JSON
 * records offered open loop at 10,000 records/s (2,000 with --quick) as BATCH frames over 8
 * connections, to module-ingest (flush `always`). NDJSON + zstd (the defaults), windows of up to
 * 50,000 records / 8 MiB / 1 s (smaller than the example config's 32 MiB, so a 4 s measurement
 * window sees several uploads rather than one lump).
 *
 * - `ours`: ingest alone, the baseline of this run;
 * - `ours+s3`: the uploader keeping up: `upload_mb_per_s` (record bodies uploaded inside the
 *   measurement window), lag, and ingest ack p99 against `ours`;
 * - `ours+s3-catch-up`: an outage. The store is down while a backlog of 64 MiB of records
 *   (1 GiB with --big, 8 MiB with --quick) is ingested at full speed; then the store comes back on
 *   the same port, and the same ingest load starts as soon as the first batch is done (the
 *   catch-up runs) while the uploader catches up. `window_in_catch_up_pct` is how much of the
 *   load's measurement window the catch-up covered (100 with --big: the row's ack p99 is ingest's
 *   under catch-up; with 64 MiB the catch-up is mostly over before the window). The s3 entry
 *   has s3's declared catch-up rate limit (100 MB/s while records are arriving; the runtime's
 *   `rateLimit`), so with --big `delivered_mb_per_s` (what it finished inside the window, live
 *   records included) is ~100–110 and `steady_mb_per_s` higher: the backlog goes at full speed
 *   between the outage's end and the load's start, when nothing arrives.
 * - `ours+s3-catch-up-unlimited`: the same with `rateLimit: { bytesPerSec: 0 }`.
 *   `resume_wait_ms` is store back → first batch done (the subscriber's offline backoff, capped at
 *   2 s here instead of 15 s so the run stays short, then the runtime's retry backoff, up to 30 s
 *   after a long outage such as the --big fill, plus that batch's upload);
 *   `backlog_ms` is store back → every record of the backlog uploaded, and `backlog_mb_per_s` the
 *   backlog's body MB over that (records ingested later do not count: sub-common watchBacklog);
 *   `steady_mb_per_s` and `steady_server_cpu_s` the same from the first batch done (--big: the
 *   first is one 64 MiB window of 16), free of the backoffs.
 *   `catch_up_ms` is, as in the other rows, load end → lag 0; `delivered_mb_per_s` is what was
 *   uploaded inside the measurement window (the backlog's tail, then the load's records).
 * - `ours+noop-catch-up`: the same backlog and load, with a subscriber that does nothing
 *   (plugins/gated-noop.ts, held until the backlog is in): the runtime's delivery ceiling, which
 *   no subscriber's catch-up can pass. Same notes. MI_BENCH_S3_NOOP_RATE=100000000 gives it (and
 *   `noop-process`) a rate limit, for the floor at the issue's catch-up rate.
 * - `ours+noop-process`, `ours+s3-process`: the same catch-ups outside the server, in the
 *   queue-worker app's process at SCHED_IDLE pinned to the host's last CPU (catch-up-process.ts;
 *   s3's store pinned beside it): as far as one host can keep a catch-up off ingest. The server
 *   has no subscriber; `catch_up_process_running_at_window_end` says the window was under it.
 *
 * MI_BENCH_S3_OPTIONS='{"format":"msgpack","compressionLevel":1}' merges options into the s3
 * entry, to compare formats and levels without editing this file; MI_BENCH_S3_NOISY=1 makes the
 * bodies' padding random digits (see kBody); MI_BENCH_S3_ROWS=noop-catch-up (labels without
 * `ours+`, comma-separated: s3, s3-catch-up, s3-catch-up-unlimited, noop-catch-up, noop-process,
 * s3-process; the last two are not in the default set) runs only
 * those rows after `ours`, e.g. to compare runtime changes.
 * The catch-up rows carry the server's main-thread loop delay (`main_loop_delay_*`, sub-common
 * threadDelays), `store_cpu_s` (fauxqs's CPU since it came back: ~0.5 s per GiB, little) and
 * `rate_limited_ms` (the entry's rateLimit's waits). Every row carries `cpu_us_per_record` and
 * `run_queue_wait_ms_per_s` by server thread group over the window (sub-common cpuPerRecord): on
 * two cores, a catch-up shows up in ingest's acks as its threads (main, parsers, writer) waiting
 * for a core, ~40–50 ms per second each with ingest alone.
 *
 * The server-side stage histograms (`fsync_p99`, `flush_p99`, …) of a catch-up row cover the
 * server's whole life, the backlog's fill at full speed included: only the client's ack
 * percentiles are the window's.
 *
 * A pair of rows is noise on a shared 2-core host (ingest alone's p99 varies 5–12 ms between
 * runs): MI_BENCH_S3_REPEAT=N runs the rows N times, alternated, each subscriber row against its
 * own pass's `ours`; the last pass's rows carry `ack_p99_vs_ingest_only_median` and `…_all`, and
 * `steady_mb_per_s_median`. MI_BENCH_S3_RATE='{"bytesPerSec":100000000}' sets the s3 entry's
 * catch-up rate limit (subscribers[].rateLimit), MI_BENCH_S3_BATCH='{"maxBytes":8388608}' its
 * windows; MI_BENCH_SERVER_THREAD_NICE='V8Worker=10' and MI_BENCH_STORE_NICE=10 renice threads by
 * name for an A/B (targets/ours.ts, stores.ts).
 *
 * Not part of the test suite (benchmarks/test/subscribers.test.ts only checks that it starts).
 * Command: node benchmarks/src/run.ts s3            (--big for the 1 GiB backlog)
 * Prerequisites: none beyond the workspace install (fauxqs is a dependency of the harness).
 */
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import type { BodySpec } from '../load/bodies.ts'
import { fillLog, kFillRecordsPerFrame } from '../load/fill.ts'
import { type MeasureWindow, measureTarget, type TargetRun, type UnderTest } from '../measure.ts'
import { cpuSeconds, freePort, reniceThreads } from '../procs.ts'
import type { Row, RunContext, Scenario } from '../scenario.ts'
import type { OursServer, SubscriberEntry } from '../targets/ours.ts'
import { type StoreProcess, startFauxqs, storeDir } from '../targets/stores.ts'
import { type CatchUpProcess, pinBeside, startCatchUpProcess } from './catch-up-process.ts'
import { summariseRepeats } from './repeat.ts'
import {
  againstIngestOnly,
  catchUpMs,
  cpuPerRecord,
  ingestLoad,
  oursOf,
  skippedRow,
  threadDelays,
  warmSubscriber,
  watchBacklog,
  watchSubscriber,
} from './sub-common.ts'

export const kBucket = 'bench'
const kBodyBytes = 1024
// MI_BENCH_S3_NOISY=1: pads of random digits instead of `x`s, so compression costs what it would on
// real readings (the `x` pads make zstd nearly free at any level).
const kBody: BodySpec = {
  kind: 'json',
  fields: ['temp', 'vibration', 'current'],
  noisyPad: process.env.MI_BENCH_S3_NOISY === '1',
}

let stores = 0
const kRecordsPerS = (ctx: RunContext) => (ctx.quick ? 2000 : 10_000)

/** The scenario's `s3` entry against a store on `port` (bucket `bench`). */
export function s3Entry(port: number): SubscriberEntry {
  return {
    name: 's3',
    use: 's3',
    streams: ['bench'],
    // Windows close after 1 s while keeping up (≈10 MB at 10k records/s), at 64 MiB while catching
    // up; objects split at 16 MiB, so a catch-up window is four objects whose PUTs overlap the
    // encoding of the next one.
    batch: {
      maxRecords: 100_000,
      maxBytes: 64 << 20,
      maxWaitMs: 1000,
      // MI_BENCH_S3_BATCH='{"maxBytes":8388608}': other windows, e.g. smaller ones under a rate limit.
      ...(JSON.parse(process.env.MI_BENCH_S3_BATCH ?? '{}') as object),
    },
    timeoutMs: 120_000,
    // MI_BENCH_S3_RATE='{"bytesPerSec":100000000}': the entry's catch-up rate limit.
    ...(process.env.MI_BENCH_S3_RATE ? { rateLimit: JSON.parse(process.env.MI_BENCH_S3_RATE) } : {}),
    options: {
      maxObjectBytes: 16 << 20,
      bucket: kBucket,
      endpoint: `http://127.0.0.1:${port}`,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
      source: 'bench',
      handleBudgetMs: 100_000,
      offlineBackoff: { initialMs: 200, maxMs: 2000 },
      // Ad-hoc variants without editing this file, e.g. '{"format":"msgpack","compressionLevel":1}'.
      ...(JSON.parse(process.env.MI_BENCH_S3_OPTIONS ?? '{}') as Record<string, unknown>),
    },
  }
}

/** MI_BENCH_S3_NOOP_RATE=100000000: the no-op rows' catch-up rate limit (bytes/s; default none). */
const noopRate = () => Number(process.env.MI_BENCH_S3_NOOP_RATE ?? 0) || 0
const kGatedNoop = new URL('../plugins/gated-noop.ts', import.meta.url).href

/** The same entry, but the runtime's no-op ceiling: batches wait until `gate` exists, then nothing. */
function gatedNoopEntry(gate: string): SubscriberEntry {
  const { batch, timeoutMs, streams } = s3Entry(0)
  return {
    name: 's3',
    use: kGatedNoop,
    streams,
    batch,
    timeoutMs,
    ...(noopRate() > 0 ? { rateLimit: { bytesPerSec: noopRate() } } : {}),
    options: { gate },
  }
}

/** Ingest `bytes` of records at full speed (closed loop, BATCH frames), as an outage's backlog. */
async function fillBacklog(server: OursServer, bytes: number): Promise<Record<string, number>> {
  const { frames, outcome } = await fillLog(server, { bytes, body: kBody, timeoutMs: 1_800_000 })
  return {
    backlog_mib: Math.round((frames * kFillRecordsPerFrame * kBodyBytes) / 2 ** 20),
    backlog_errors: outcome.errors,
  }
}

export const s3Scenario: Scenario = {
  name: 's3',
  group: 'subscriber',
  description: 's3 subscriber to a local S3 store (fauxqs) with ingest running; catch-up after an outage',
  quick: false,
  full: true,
  async run(ctx: RunContext): Promise<Row[]> {
    if (!ctx.targets.has('ours')) return []
    const load = ingestLoad(kRecordsPerS(ctx), kBodyBytes, kBody)
    const rows: Row[] = []
    const only = process.env.MI_BENCH_S3_ROWS?.split(',')
    // The process rows only when named: with the default 64 MiB backlog they would measure little.
    const byName = ['noop-process', 's3-process']
    const wanted = (label: string) => (only === undefined ? !byName.includes(label) : only.includes(label))
    const repeat = Math.max(1, Number(process.env.MI_BENCH_S3_REPEAT ?? 1) || 1)
    for (let i = 1; i <= repeat; i++) await pass(ctx, load, rows, wanted, repeat > 1 ? `#${i}` : '')
    if (repeat > 1) summariseRepeats(rows)
    return rows
  },
}

/** One pass of the rows: `ours`, then each subscriber row compared with that `ours`. */
async function pass(
  ctx: RunContext,
  load: Partial<TargetRun>,
  rows: Row[],
  wanted: (label: string) => boolean,
  suffix: string,
): Promise<void> {
  const scenario = 's3'
  let base: Row | undefined
  const row = async (label: string, r: Partial<TargetRun>) => {
    ctx.log(`  ${label}${suffix} …`)
    // Every row: its server's CPU per record by thread group and how long each group waited for a
    // core (run_queue_wait_ms_per_s) inside the window, the ingest-alone row's included: the
    // waits are what a catch-up adds to ingest's acks on two cores.
    const during = async (ut: UnderTest) => {
      const cpu = cpuPerRecord(oursOf(ut), kRecordsPerS(ctx))
      const own = r.during ? await r.during(ut) : null
      return async (w: MeasureWindow) => ({ ...(await own?.(w)), ...(await cpu(w)) })
    }
    const out = await measureTarget(ctx, scenario, 'ours', { ...load, ...r, during } as TargetRun)
    out.target = `${label}${suffix}`
    if (label === 'ours') base = out
    else againstIngestOnly(out, base)
    rows.push(out)
  }
  await row('ours', {})

  // The uploader keeping up with ingest.
  const dir = await storeDir(ctx.scratch, `s3-store-${++stores}`)
  let store: StoreProcess | null = null
  try {
    store = await startFauxqs(dir, 0, [kBucket])
  } catch (err) {
    rows.push(skippedRow(scenario, 'ours+s3', err))
  }
  if (store && !wanted('s3')) await store.kill()
  else if (store) {
    const port = store.port
    try {
      await row('ours+s3', {
        subscribers: [s3Entry(port)],
        prepare: (ut) => warmSubscriber(oursOf(ut), 's3', 'bench', kBody, kBodyBytes),
        during: (ut) =>
          watchSubscriber(oursOf(ut), 's3', {
            catchUpMs: catchUpMs(ctx),
            rateKey: 'uploaded_per_s',
            mbKey: 'upload_mb_per_s',
          }),
      })
    } finally {
      await store.kill()
      await rm(dir, { recursive: true, force: true })
    }
  }

  // An outage: a backlog builds while the subscriber cannot deliver; then `restore` ends the
  // outage and the same ingest load runs while it catches up.
  const backlogBytes = (ctx.quick ? 8 : ctx.big ? 1024 : 64) * 2 ** 20
  const timeoutMs = ctx.quick ? 60_000 : ctx.big ? 900_000 : 180_000
  const catchUpRow = (label: string, entry: SubscriberEntry, restore: () => Promise<void>) => {
    let backlog: ((w?: MeasureWindow) => Promise<Record<string, number | string>>) | null = null
    return row(label, {
      subscribers: [entry],
      async prepare(ut) {
        const server = oursOf(ut)
        ctx.log(`    ${label}: outage; ingesting a ${backlogBytes / 2 ** 20} MiB backlog …`)
        const notes = await fillBacklog(server, backlogBytes)
        // The A/B's thread priorities again: the subscriber's threads exist by now.
        const threadNice = process.env.MI_BENCH_SERVER_THREAD_NICE
        if (threadNice) reniceThreads(server.pid, threadNice)
        // The load starts once the first batch is done: the backlog is caught up under it (with
        // 64 MiB mostly inside its warm-up; --big for a catch-up spanning the measurement window).
        backlog = await watchBacklog(server, 's3', timeoutMs, restore)
        ctx.log('    outage over; catching up with ingest running …')
        return notes
      },
      async during(ut) {
        const delays = threadDelays(oursOf(ut))
        const stop = watchSubscriber(oursOf(ut), 's3', {
          catchUpMs: timeoutMs,
          rateKey: 'delivered_per_s',
          mbKey: 'delivered_mb_per_s',
        })
        return async (w) => {
          const out = { ...(await (await delays)()), ...(await backlog?.(w)), ...(await stop(w)) }
          // The store's CPU since it came back (the catch-up and the load): on this host it takes
          // cores a remote store would not.
          const s = store as StoreProcess | null
          if (label !== 'ours+noop-catch-up' && s) out.store_cpu_s = +cpuSeconds(s.pid).toFixed(2)
          return out
        }
      },
    })
  }

  // The uploader: the store is down (nothing listens on its port) until `restore` starts it. With
  // s3's declared rate limit (100 MB/s while ingesting), then without any (`-unlimited`).
  const variants: [string, (port: number) => SubscriberEntry][] = [
    ['s3-catch-up', s3Entry],
    ['s3-catch-up-unlimited', (port) => ({ ...s3Entry(port), rateLimit: { bytesPerSec: 0 } })],
  ]
  for (const [label, entry] of variants) {
    if (!wanted(label)) continue
    const port = await freePort()
    store = null
    try {
      await catchUpRow(`ours+${label}`, entry(port), async () => {
        store = await startFauxqs(dir, port, [kBucket])
      })
    } finally {
      await (store as StoreProcess | null)?.kill()
      await rm(dir, { recursive: true, force: true })
    }
  }

  // The runtime's own delivery rate on the same backlog (a subscriber doing nothing, held until
  // the gate file exists): the ceiling of any subscriber's catch-up, whatever the plugin does.
  const gate = join(ctx.scratch, `s3-noop-gate-${++stores}`)
  try {
    if (wanted('noop-catch-up'))
      await catchUpRow('ours+noop-catch-up', gatedNoopEntry(gate), () => writeFile(gate, ''))
  } finally {
    await rm(gate, { force: true })
  }

  // The same catch-ups outside the server: a process of their own, at SCHED_IDLE on the last CPU
  // (catch-up-process.ts); the server has no subscriber, the backlog is the same. `noop-process`:
  // the no-op plugin, the floor. `s3-process`: the uploader, its store (standing in for a remote
  // one) pinned beside it at SCHED_IDLE too, so that neither takes ingest's CPU by priority.
  const batchFlags = () => {
    const batch = s3Entry(0).batch!
    return ['--batch-records', String(batch.maxRecords), '--batch-bytes', String(batch.maxBytes)]
  }
  const processRow = async (label: string, start: (dataDir: string) => Promise<CatchUpProcess>) => {
    let proc: CatchUpProcess | null = null
    try {
      await row(`ours+${label}`, {
        async prepare(ut) {
          const server = oursOf(ut)
          ctx.log(`    ours+${label}: ingesting a ${backlogBytes / 2 ** 20} MiB backlog …`)
          const notes = await fillBacklog(server, backlogBytes)
          proc = await start(server.dataDir)
          // It reads from the log's start within a second; the load's warm-up comes after that.
          await sleep(1000)
          return notes
        },
        // At the window's end, then its whole run (elapsed_s of its summary: the backlog, at the
        // rate limit while the load ran) while the server is still up.
        during: () => async () => {
          const p = proc as CatchUpProcess | null
          return p ? { ...p.notes(), ...(await p.finish(timeoutMs)) } : {}
        },
      })
    } finally {
      await (proc as CatchUpProcess | null)?.finish(0)
    }
  }
  if (wanted('noop-process')) {
    try {
      await processRow('noop-process', async (dataDir) => {
        await writeFile(gate, '')
        return startCatchUpProcess(dataDir, fileURLToPath(kGatedNoop), [
          ...['--options', JSON.stringify({ gate }), '--streams', 'bench', '--group', 'bench-noop'],
          ...batchFlags(),
          ...(noopRate() > 0 ? ['--rate-limit', String(noopRate())] : []),
        ])
      })
    } finally {
      await rm(gate, { force: true })
    }
  }
  if (wanted('s3-process')) {
    store = null
    try {
      await processRow('s3-process', async (dataDir) => {
        const s = await startFauxqs(dir, 0, [kBucket])
        store = s
        const proc = startCatchUpProcess(dataDir, 's3', [
          ...[
            '--options',
            JSON.stringify(s3Entry(s.port).options),
            '--streams',
            'bench',
            '--group',
            'bench-s3',
          ],
          ...batchFlags(),
          ...['--timeout-ms', String(s3Entry(0).timeoutMs)],
        ])
        pinBeside(s.pid)
        return proc
      })
    } finally {
      await (store as StoreProcess | null)?.kill()
      await rm(dir, { recursive: true, force: true })
    }
  }
}
