#!/usr/bin/env node
/**
 * Cold start: spawn `module-ingest serve` on an empty data dir, time spawn → `ServerListening`,
 * kill, repeat. Alternates this checkout and --base DIR (another checkout) run by run, so both see
 * the same machine load. Not part of the test suite.
 *
 * Command: node benchmarks/src/coldstart.ts [--runs N] [--base DIR]
 */
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { startOurs } from './targets/ours.ts'

const { values: o } = parseArgs({ options: { runs: { type: 'string' }, base: { type: 'string' } } })
const runs = Number(o.runs ?? 10)
const roots: Array<[string, string | undefined]> = [['this checkout', undefined]]
if (o.base) roots.push(['base', resolve(o.base)])
const times = new Map<string, number[]>(roots.map(([l]) => [l, []]))
const cpu = new Map<string, number[]>(roots.map(([l]) => [l, []]))
/** utime + stime of every thread of `pid` so far, ms: less sensitive to a loaded machine than wall time. */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100
}
for (let i = 0; i < runs; i++) {
  for (const [label, root] of roots) {
    const dir = await mkdtemp(join(tmpdir(), 'mi-coldstart-'))
    try {
      const s = await startOurs({ dataDir: dir, flush: 'always', ...(root ? { root } : {}) })
      times.get(label)!.push(s.startMs)
      // The stats requests after ServerListening cost a little CPU too; counted, small.
      cpu.get(label)!.push(cpuMs(s.pid))
      await s.kill()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }
}
for (const [label, t] of [...times, ...[...cpu].map(([l, c]) => [`${l} (CPU, all threads)`, c] as const)]) {
  t.sort((a, b) => a - b)
  const ms = (v: number | undefined) => Math.round(v ?? Number.NaN)
  process.stdout.write(
    `${label}: spawn → ServerListening (+ one stats call) over ${t.length} runs: min ${ms(t[0])} ms, median ${ms(t[t.length >> 1])} ms, max ${ms(t.at(-1))} ms\n`,
  )
}
