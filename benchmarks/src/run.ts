#!/usr/bin/env node
/**
 * module-ingest end-to-end benchmarks: `pnpm bench` (= `node benchmarks/src/run.ts`).
 * Not part of the test suite; benchmarks/test/quick.test.ts runs `--quick` as a smoke test.
 * Usage: node benchmarks/src/run.ts --help
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { dirname, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { killAll } from './procs.ts'
import { allScenarios, select } from './registry.ts'
import { machineInfo } from './report/machine.ts'
import { type Report, renderMarkdown } from './report/markdown.ts'
import { ratios, textTable } from './report/table.ts'
import { kTargets, type Row, type RunContext, type TargetName } from './scenario.ts'

const kRoot = fileURLToPath(new URL('../../', import.meta.url))

const kHelp = `module-ingest benchmarks (end to end: socket → durable ACK), with NATS JetStream and Redis Streams.

usage: node benchmarks/src/run.ts [scenario|group|prefix ...] [options]

  (no names)          the full run (≤ 10 min) or, with --quick, the smoke run (≤ 1 min)
  throughput          a group; throughput-128 a prefix; throughput-128-c100 one scenario
  micro:ring          a package micro-bench (packages/*/bench/*.bench.ts), see --list

options:
  --list              list scenarios and exit
  --quick             short durations, the CI subset (benchmarks/test/quick.test.ts)
  --big               recovery with 10 GiB of log instead of 1 GiB, the s3 catch-up with a
                      1 GiB backlog instead of 64 MiB, and kv-1m in the default set
  --targets a,b       ${kTargets.join(',')} (default: all)
  --window N          in-flight frames per connection, every target and scenario (default 256,
                      capped at 32,768 in flight in total: 32 per connection at 1,000 connections)
  --workers N         load-generator processes (default max(2, nproc))
  --warmup-ms N       per row (default 1000; --quick 300)
  --measure-ms N      per row (default 4000; --quick 1000)
  --json FILE         write the results as JSON
  --markdown FILE     write BENCHMARKS.md-style markdown (from the same JSON)
  --render FILE       only render --markdown from an existing --json FILE, run nothing
  --scratch DIR       where data dirs go (default benchmarks/.scratch); must be a real disk
  --keep              keep the scratch dir
  --base DIR          also run target ours-base: the server of another checkout (with its
                      node_modules), e.g. main before a change: a before/after in one run
  -h, --help

Environment: MI_BENCH_READS=main serves the kv/index read APIs on the main thread's metrics
  listener (telemetry.reads: false) instead of their own thread, for an A/B of the two;
  MI_BENCH_READS_NICE=<n> sets that thread's telemetry.reads.nice; MI_BENCH_INDEX_NICE=<n> the
  index entry's nice (index scenario); MI_BENCH_INDEX_FORMAT=points its queries' reply format;
  MI_BENCH_INDEX_RATES=200000 its offered rates (comma-separated, default 100000,200000);
  MI_BENCH_NODE_FLAGS='--trace-gc' passes node flags to the servers started (those NODE_OPTIONS refuses;
  with --cpu-prof they are stopped with SIGTERM so they write it); MI_BENCH_LOAD_NODE_FLAGS the same
  for the load-generator children.
`

function fail(message: string): never {
  process.stderr.write(`run.ts: ${message}\n`)
  process.exit(2)
}

const { values: o, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        list: { type: 'boolean' },
        quick: { type: 'boolean' },
        big: { type: 'boolean' },
        targets: { type: 'string' },
        window: { type: 'string' },
        workers: { type: 'string' },
        'warmup-ms': { type: 'string' },
        'measure-ms': { type: 'string' },
        json: { type: 'string' },
        markdown: { type: 'string' },
        render: { type: 'string' },
        scratch: { type: 'string' },
        keep: { type: 'boolean' },
        base: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (err) {
    fail(`${(err as Error).message}\n\n${kHelp}`)
  }
})()

const posInt = (name: string, v: string | undefined, dflt: number) => {
  if (v === undefined) return dflt
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 1) fail(`--${name} expects a positive integer, got "${v}"`)
  return n
}

if (o.help) {
  process.stdout.write(kHelp)
  process.exit(0)
}

const scenarios = allScenarios()
if (o.list) {
  const w = Math.max(...scenarios.map((s) => s.name.length))
  for (const s of scenarios) {
    const sets = [s.full ? 'full' : '', s.quick ? 'quick' : ''].filter(Boolean).join(',') || 'by name'
    process.stdout.write(`${s.name.padEnd(w)}  ${sets.padEnd(10)}  ${s.description}\n`)
  }
  process.exit(0)
}

if (o.render) {
  if (!o.markdown) fail('--render needs --markdown FILE')
  const rep = JSON.parse(await readFile(o.render, 'utf8')) as Report
  await writeFile(o.markdown, renderMarkdown(rep))
  process.stderr.write(`wrote ${o.markdown}\n`)
  process.exit(0)
}

const quick = o.quick ?? false
const { chosen, unknown } = select(scenarios, positionals, quick)
if (unknown.length) fail(`unknown scenario(s): ${unknown.join(', ')} (see --list)`)
const targets = new Set<TargetName>(
  (o.targets ?? kTargets.join(',')).split(',').map((t) => {
    if (!(kTargets as readonly string[]).includes(t)) fail(`unknown target "${t}" (${kTargets.join(', ')})`)
    return t as TargetName
  }),
)

const scratchBase = resolve(o.scratch ?? resolve(kRoot, 'benchmarks/.scratch'))
const scratch = resolve(scratchBase, `run-${process.pid}-${Date.now()}`)
await mkdir(scratch, { recursive: true })
const log = (m: string) => process.stderr.write(`${m}\n`)
const ctx: RunContext = {
  quick,
  big: o.big ?? false,
  named: new Set(positionals),
  targets,
  window: posInt('window', o.window, 256),
  windowFixed: o.window !== undefined,
  workers: posInt('workers', o.workers, Math.max(2, availableParallelism())),
  warmupMs: posInt('warmup-ms', o['warmup-ms'], quick ? 300 : 1000),
  measureMs: posInt('measure-ms', o['measure-ms'], quick ? 1000 : 4000),
  scratch,
  log,
  ...(o.base ? { baseRoot: resolve(o.base) } : {}),
}

const cleanup = async () => {
  killAll()
  if (!o.keep) await rm(scratch, { recursive: true, force: true })
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    void cleanup().finally(() => process.exit(130))
  })
}

const started = performance.now()
log(`machine: probing fdatasync in ${relative(process.cwd(), scratch) || scratch} …`)
const machine = machineInfo(scratch, quick)
log(`  ${machine.nproc} × ${machine.cpu_model}, fdatasync p50 ${machine.fdatasync_p50_us} µs`)

const rows: Row[] = []
try {
  for (const s of chosen) {
    const t = performance.now()
    log(`▶ ${s.name}: ${s.description}`)
    try {
      rows.push(...(await s.run(ctx)))
    } catch (err) {
      log(`  ${s.name} failed: ${(err as Error).stack ?? err}`)
      rows.push({
        scenario: s.name,
        target: '-',
        params: {},
        msgs_per_s: null,
        mb_per_s: null,
        ack: null,
        flush: null,
        rss_peak_mib: null,
        cpu_s: null,
        errors: 1,
        extra: { failed: (err as Error).message.split('\n')[0]! },
      })
    }
    log(`  (${((performance.now() - t) / 1000).toFixed(1)} s)`)
  }
} finally {
  await cleanup()
}

const command = `node benchmarks/src/run.ts ${process.argv.slice(2).join(' ')}`.trim()
const report: Report = {
  generated_at: new Date().toISOString(),
  command,
  settings: {
    quick,
    big: ctx.big,
    window: ctx.window,
    workers: ctx.workers,
    warmup_ms: ctx.warmupMs,
    measure_ms: ctx.measureMs,
    targets: [...targets],
  },
  machine,
  duration_s: (performance.now() - started) / 1000,
  rows,
  ratios: ratios(rows),
}

const measured = rows.filter((r) => r.target !== 'micro')
if (measured.length) {
  process.stdout.write(`\n${textTable(measured)}\n`)
  if (report.ratios.length) process.stdout.write(`\nours/peer records/s:\n  ${report.ratios.join('\n  ')}\n`)
  process.stdout.write(
    `\nNote: NATS JetStream 2.9 acks before fsync (syncs every 2 min by default); compare it with ours-interval.\n` +
      `${machine.nproc} CPUs shared by server and generators; fdatasync p50 ${machine.fdatasync_p50_us} µs. ` +
      `Total ${report.duration_s.toFixed(0)} s.\n`,
  )
}
for (const [flag, file, text] of [
  ['json', o.json, () => `${JSON.stringify(report, null, 2)}\n`],
  ['markdown', o.markdown, () => renderMarkdown(report)],
] as const) {
  if (!file) continue
  await mkdir(dirname(resolve(file)), { recursive: true })
  await writeFile(file, text())
  log(`wrote ${flag} ${file}`)
}
process.exitCode = rows.some((r) => r.extra.failed !== undefined) ? 1 : 0
