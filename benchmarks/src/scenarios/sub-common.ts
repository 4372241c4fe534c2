/**
 * What the subscriber scenarios (sub-ai, sub-s3, sub-index, sub-kv) share: the ingest load they
 * all run, a sampler of one subscriber's stats, and the ack-p99 comparison with the ingest-only
 * row of the same run. Not a scenario itself.
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect } from '@module-ingest/client'
import { type BodySpec, makeBodies } from '../load/bodies.ts'
import { couldNotStart, emptyRow, type MeasureWindow, type TargetRun, type UnderTest } from '../measure.ts'
import { cpuSeconds, mainThreadCpuSeconds, sampleThreadSched, schedDelta, threadSched } from '../procs.ts'
import type { Row, RunContext } from '../scenario.ts'
import type { OursServer, SubscriberStats } from '../targets/ours.ts'

/** Records per BATCH frame in the open-loop ingest of the subscriber rows. */
const kPerFrame = 32

/**
 * The ingest every subscriber row runs: open loop at `recordsPerS` (so the with/without ack p99s
 * compare the same offered load, free of coordinated omission), BATCH frames of 32 records over
 * 8 connections.
 */
export function ingestLoad(recordsPerS: number, bodyBytes: number, body: BodySpec): TargetRun {
  return {
    bodyBytes,
    body,
    connections: 8,
    recordsPerFrame: kPerFrame,
    ratePerSec: Math.max(1, Math.round(recordsPerS / kPerFrame)),
  }
}

/** Our server, from a row's server under test: the subscriber scenarios run against ours only. */
export function oursOf(ut: UnderTest): OursServer {
  if (ut.kind !== 'ours') throw new Error('a subscriber row runs against module-ingest only')
  return ut.server
}

/** A row that could not run, e.g. a store that did not start, instead of failing the scenario. */
export function skippedRow(scenario: string, target: string, err: unknown): Row {
  const row = emptyRow(scenario, 'ours', {})
  row.target = target
  row.skipped = couldNotStart(err)
  return row
}

/**
 * Before the load: send 64 records to `stream` and wait until subscriber `name` has finished them,
 * so its start (worker threads, loading a model, opening a store, the first connection to a
 * remote server) is not in the measurement window. Its time goes into the notes.
 */
export async function warmSubscriber(
  server: OursServer,
  name: string,
  stream: string,
  body: BodySpec,
  bodyBytes: number,
): Promise<Record<string, number>> {
  const t0 = performance.now()
  const client = await connect({ port: server.port, module: 'bench-warm', auth: { token: server.token } })
  try {
    const items = makeBodies(body, bodyBytes, 0)
    await client.sendBatch(
      Array.from({ length: 64 }, (_, i) => ({ stream, body: items[i % items.length]!.body })),
    )
  } finally {
    await client.close()
  }
  for (const deadline = t0 + 120_000; performance.now() < deadline; await sleep(50)) {
    const s = (await server.stats()).subscribers?.find((x) => x.name === name)
    if ((s?.delivered ?? 0) >= 64) return { warm_up_ms: Math.round(performance.now() - t0) }
  }
  throw new Error(`subscriber ${name} did not finish 64 warm-up records within 120 s`)
}

interface Sample {
  t: number
  delivered: number
  bytes: number
  lag: number
}

/**
 * Samples subscriber `name` every 200 ms from now until the returned function is called with the
 * measurement window; that then waits up to `catchUpMs` for the lag to reach 0 and reports, in
 * the row's notes: records the subscriber finished per second inside the window (under the name
 * `rateKey`, e.g. `inferences_per_s`), the body MB/s of those (`mb_per_s_of`…, when asked),
 * peak lag, lag when the load stopped, catch-up time from the load's end to lag 0 (or the lag left
 * at the deadline), and dead
 * letters, a state other than running and the last error when there are any.
 */
export function watchSubscriber(
  server: OursServer,
  name: string,
  o: {
    catchUpMs: number
    rateKey: string
    mbKey?: string
  },
): (w: MeasureWindow) => Promise<Record<string, number | string>> {
  const { catchUpMs } = o
  const samples: Sample[] = []
  const read = async (): Promise<SubscriberStats | undefined> =>
    (await server.stats()).subscribers?.find((s) => s.name === name)
  const take = async () => {
    const s = await read().catch(() => undefined)
    if (s)
      samples.push({
        t: performance.now(),
        delivered: s.delivered,
        bytes: s.deliveredBytes ?? 0,
        lag: s.lagRecords,
      })
    return s
  }
  const startedAt = Date.now()
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      await take()
      await sleep(200)
    }
  })()
  return async (w) => {
    stopped = true
    await loop
    const atStop = await take()
    const t0 = performance.now()
    let last = atStop
    while ((last?.lagRecords ?? 0) > 0 && performance.now() - t0 < catchUpMs) {
      await sleep(100)
      last = (await take()) ?? last
    }
    const a = [...samples].reverse().find((s) => s.t <= w.startMs) ?? samples[0]
    const b = samples.find((s) => s.t >= w.endMs) ?? samples.at(-1)
    const dt = a && b && b.t > a.t ? (b.t - a.t) / 1000 : Number.NaN
    const out: Record<string, number | string> = {
      [o.rateKey]: a && b ? Math.round((b.delivered - a.delivered) / dt) : 0,
      ...(o.mbKey ? { [o.mbKey]: a && b ? (b.bytes - a.bytes) / 1e6 / dt : 0 } : {}),
      lag_peak_records: Math.max(0, ...samples.filter((s) => s.t <= t0).map((s) => s.lag)),
      lag_after_load_records: atStop?.lagRecords ?? -1,
    }
    if ((last?.lagRecords ?? 1) === 0) out.catch_up_ms = Math.round(performance.now() - t0)
    else {
      out.catch_up_ms = `not within ${Math.round(catchUpMs / 1000)} s`
      out.lag_left_records = last?.lagRecords ?? -1
    }
    if (last?.deadLettered) out.dead_lettered = last.deadLettered
    if (last?.state && last.state !== 'running') out.state = last.state
    // An error from before this row's load (the s3 outage) is not news.
    const err = last?.lastError
    if (err && err.atMs >= startedAt) out.last_error = `${err.code}: ${err.message}`.slice(0, 120)
    return out
  }
}

/**
 * A backlog's catch-up, from `restore()` ending an outage (the store is back, the gate open) until
 * the subscriber has finished every record that was durable before it: its done point
 * (`ackedLsn`) passes the log's end as it was, polled every 50 ms. Records ingested later do not
 * count, so the rate is the subscriber's own, whatever load runs meanwhile. Resolves once the
 * first batch is done (the catch-up runs), so a load started then measures ingest under it; the
 * returned function (given the load's measurement window: `window_in_catch_up_pct`, the share of
 * it the catch-up covered) waits for the backlog (up to `timeoutMs`) and gives the notes `backlog_records`, `resume_wait_ms`
 * (restored → first batch done), `backlog_ms` (restored → backlog done) and `backlog_mb_per_s`
 * (the backlog's body MB, at the mean body size of the records delivered meanwhile, over
 * backlog_ms). From the first batch done to the backlog done, free of the offline and retry
 * backoffs (which vary by tens of seconds after a long outage): `steady_mb_per_s`, the server
 * process's CPU `steady_server_cpu_s` (ingest and the runtime included: the no-op row's share is
 * what the subscriber itself did not cost) and `steady_mb_per_server_cpu_s`, and the main thread's
 * share `steady_main_cpu_ms_per_mb` (its ingest sockets and the stats polls included, the same in
 * every row; where the subscriber runtime runs there, its cost too) and `steady_thread_cpu_s`
 * (the server's CPU by thread name and nice, largest first); absent when the first
 * batch took half the backlog or more (64 MiB: one window).
 */
export async function watchBacklog(
  server: OursServer,
  name: string,
  timeoutMs: number,
  restore: () => Promise<void>,
): Promise<(w?: MeasureWindow) => Promise<Record<string, number | string>>> {
  const read = async () => (await server.stats()).subscribers?.find((s) => s.name === name)
  // The bounds before the outage ends: a fast subscriber is through much of the backlog before a
  // stats answer asked for afterwards arrives.
  const s0 = await read()
  if (s0?.ackedLsn === undefined) throw new Error(`subscriber ${name}: no ackedLsn in stats`)
  const from = s0.ackedLsn
  const until = from + s0.lagRecords
  await restore()
  const t0 = performance.now()
  // Whoever waits for the first batch done (the caller, before starting its load) is woken here.
  const resumed = Promise.withResolvers<void>()
  let resume: {
    t: number
    acked: number
    cpu: number
    main: number
    threads: ReturnType<typeof threadSched>
  } | null = null
  const done = (async () => {
    for (const deadline = t0 + timeoutMs; performance.now() < deadline; await sleep(50)) {
      const s = await read().catch(() => undefined)
      if (s === undefined) continue
      if (resume === null && s.delivered > s0.delivered)
        resume = {
          t: performance.now(),
          acked: s.ackedLsn ?? from,
          cpu: cpuSeconds(server.pid),
          main: mainThreadCpuSeconds(server.pid),
          threads: threadSched(server.pid),
        }
      if (resume !== null) resumed.resolve()
      if ((s.ackedLsn ?? 0) >= until)
        return {
          t: performance.now(),
          s,
          cpu: cpuSeconds(server.pid),
          main: mainThreadCpuSeconds(server.pid),
          threads: threadSched(server.pid),
        }
    }
    return null
  })().finally(() => resumed.resolve())
  // The caller's load starts once the catch-up runs: after a long outage the runtime's retry
  // backoff (up to 30 s, jittered) could otherwise put the whole measurement window before it.
  await resumed.promise
  return async (w) => {
    const end = await done
    const out: Record<string, number | string> = { backlog_records: until - from }
    if (resume !== null) out.resume_wait_ms = Math.round(resume.t - t0)
    if (end === null) {
      out.backlog_ms = `not within ${Math.round(timeoutMs / 1000)} s`
      return out
    }
    const { t, s, cpu, main, threads } = end
    // How much of the load's measurement window the catch-up covered (100: the whole window's
    // ack p99 is a p99 under catch-up).
    if (w && w.endMs > w.startMs)
      out.window_in_catch_up_pct = Math.round(
        (100 * Math.max(0, Math.min(w.endMs, t) - Math.max(w.startMs, resume?.t ?? t0))) /
          (w.endMs - w.startMs),
      )
    const bytesPerRecord =
      ((s.deliveredBytes ?? 0) - (s0.deliveredBytes ?? 0)) / Math.max(1, s.delivered - s0.delivered)
    out.backlog_ms = Math.round(t - t0)
    if (s.rateLimitedMs) out.rate_limited_ms = s.rateLimitedMs - (s0.rateLimitedMs ?? 0)
    out.backlog_mb_per_s = +(((until - from) * bytesPerRecord) / 1e3 / (t - t0)).toFixed(1)
    // After the first batch: the rate without the backoffs, and the server's CPU for it.
    if (resume !== null && until - resume.acked >= (until - from) / 2 && t > resume.t) {
      const mb = ((until - resume.acked) * bytesPerRecord) / 1e6
      out.steady_mb_per_s = +((mb * 1e3) / (t - resume.t)).toFixed(1)
      out.steady_server_cpu_s = +(cpu - resume.cpu).toFixed(2)
      out.steady_mb_per_server_cpu_s = +(mb / (cpu - resume.cpu)).toFixed(1)
      out.steady_main_cpu_ms_per_mb = +(((main - resume.main) * 1e3) / mb).toFixed(2)
      // Where the server's CPU went, by thread name and nice: `name@nice=seconds` (what ran at 0 competes
      // with ingest on equal terms).
      out.steady_thread_cpu_s = [...schedDelta(resume.threads, threads)]
        .filter(([, d]) => d.runMs >= 50)
        .sort((a, b) => b[1].runMs - a[1].runMs)
        .map(([name, d]) => `${name}@${d.nice.join('/')}=${(d.runMs / 1e3).toFixed(2)}`)
        .join(' ')
      // How long ingest's threads were runnable but waited for a core, per second of the catch-up.
      const waited = schedDelta(resume.threads, threads)
      out.steady_ingest_run_queue_wait_ms_per_s = ['MainThread', 'mi-writer', 'mi-parser-0']
        .map((name) => `${name}=${(((waited.get(name)?.waitMs ?? 0) * 1e3) / (t - resume!.t)).toFixed(0)}`)
        .join(' ')
    }
    return out
  }
}

/** How long a row waits after its load for the subscriber to catch up. */
export function catchUpMs(ctx: RunContext): number {
  return ctx.quick ? 3000 : 5000
}

/** The note each subscriber row carries: its ingest ack p99 over the ingest-only row of the same run. */
export function againstIngestOnly(row: Row, base: Row | undefined): void {
  if (!base?.ack?.p99_us || !row.ack?.p99_us) return
  row.extra.ack_p99_vs_ingest_only = `×${(row.ack.p99_us / base.ack.p99_us).toFixed(2)}`
}

/** p50/p99 of a list of milliseconds, in µs (the table's unit). */
export function percentilesUs(ms: number[]): { p50_us: number; p99_us: number } {
  if (ms.length === 0) return { p50_us: 0, p99_us: 0 }
  const s = [...ms].sort((x, y) => x - y)
  const at = (p: number) => Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]! * 1000)
  return { p50_us: at(0.5), p99_us: at(0.99) }
}

/**
 * Between this call and the returned function's, in ms (p50/p99/max), from the server's histograms
 * (apps/server loop-delay.ts, reads-worker.ts): `main_loop_delay` — how long ready work waited for
 * the main thread (what a request there waits before its handler runs); with the reads thread,
 * `reads_loop_delay` (the same for that thread, on the same machine at the same moment) and
 * `reads_request` (arrival to reply, inside that thread) with `reads_request_cpu` (that thread's CPU
 * for them, sampled on one request in 16: the rest is waiting for a core). `suffix` tells rows
 * apart (`_quiet`).
 */
export async function threadDelays(
  server: OursServer,
  suffix = '',
): Promise<() => Promise<Record<string, number>>> {
  const key = `bench-delay-${Math.random().toString(36).slice(2, 8)}`
  // A server that is gone (the row failed) has no delays to report; the row says why it failed.
  if (
    !(await server.stats(key).then(
      () => true,
      () => false,
    ))
  )
    return async () => ({})
  const names: Record<string, string> = {
    mi_main_loop_delay_us: 'main_loop_delay',
    mi_reads_loop_delay_us: 'reads_loop_delay',
    mi_reads_request_us: 'reads_request',
    mi_reads_request_cpu_us: 'reads_request_cpu',
  }
  return async () => {
    const out: Record<string, number> = {}
    const stats = await server.stats(key).catch(() => undefined)
    for (const h of stats?.interval?.histograms ?? []) {
      const name = names[h.name]
      if (!name || h.count === 0) continue
      out[`${name}${suffix}_p50_ms`] = h.p50 / 1000
      out[`${name}${suffix}_p99_ms`] = h.p99 / 1000
      out[`${name}${suffix}_max_ms`] = h.max / 1000
    }
    return out
  }
}

/** Wait (at most `ms`) until subscriber `name` has no lag: a quiet measurement must not overlap its apply. */
export async function waitCaughtUp(server: OursServer, name: string, ms: number): Promise<boolean> {
  for (const deadline = performance.now() + ms; performance.now() < deadline; await sleep(100)) {
    const s = (await server.stats()).subscribers?.find((x) => x.name === name)
    if (s && s.lagRecords === 0) return true
  }
  return false
}

/** Thread names (`comm`) of our server, grouped as cpuPerRecord reports them. */
function threadGroup(name: string): string {
  if (name === 'MainThread') return 'main'
  if (name.startsWith('mi-parser')) return 'parsers'
  if (name === 'mi-writer') return 'writer'
  if (name === 'mi-reads') return 'reads'
  // Subscriber pool workers (piscina names no threads) and any other unnamed worker.
  if (name === 'WorkerThread') return 'workers'
  // V8's platform threads: concurrent and parallel GC, background compilation.
  if (name === 'V8Worker') return 'v8'
  return 'other'
}

/**
 * From now until the returned function is called with the window, from each server thread's
 * schedstat (ns, unlike /proc/<pid>/stat's ticks): `cpu_us_per_record`, CPU µs per record offered
 * by thread group (main, parsers, writer, workers = subscriber threads, reads, v8 = GC and
 * compilation helpers, other), as one note ("server 3.10 = main 0.65 + …"; addLoadCpu appends the
 * load generators' share), and `run_queue_wait_ms_per_s`: per group, how long its threads were
 * runnable but waiting for a core, in ms per second of the window (where a 2-core host shared with
 * the generators makes a request wait).
 */
export function cpuPerRecord(
  server: OursServer,
  recordsPerS: number,
): (w: MeasureWindow) => Promise<Record<string, string>> {
  const stop = sampleThreadSched(server.pid)
  return async (w) => {
    const seconds = (w.endMs - w.startMs) / 1000
    const records = recordsPerS * seconds
    const run = new Map<string, number>()
    const wait = new Map<string, number>()
    for (const [name, t] of stop(w)) {
      const g = threadGroup(name)
      run.set(g, (run.get(g) ?? 0) + t.runMs)
      wait.set(g, (wait.get(g) ?? 0) + t.waitMs)
    }
    const us = (ms: number) => ((ms * 1e3) / records).toFixed(2)
    const total = [...run.values()].reduce((a, x) => a + x, 0)
    const byRun = [...run].filter(([, ms]) => ms > 0).sort((a, b) => b[1] - a[1])
    return {
      cpu_us_per_record: `server ${us(total)} = ${byRun.map(([g, ms]) => `${g} ${us(ms)}`).join(' + ')}`,
      run_queue_wait_ms_per_s: byRun
        .map(([g]) => `${g} ${Math.round((wait.get(g) ?? 0) / seconds)}`)
        .join(', '),
    }
  }
}

/** Append the load generators' CPU per record (from `load_cpu_s` over `measureMs`) to the note. */
export function addLoadCpu(row: Row, recordsPerS: number, measureMs: number): void {
  const load = row.extra.load_cpu_s
  if (typeof load !== 'number' || typeof row.extra.cpu_us_per_record !== 'string') return
  row.extra.cpu_us_per_record += `; load generators ${((load * 1e6) / ((recordsPerS * measureMs) / 1000)).toFixed(2)}`
}
