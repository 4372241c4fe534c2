// Smoke-test the benches (STYLE §8) so they cannot rot: tiny sizes, no timing assertions.
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'

const pkg = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')

test('append and recovery benches run and print JSON', (t) => {
  const run = (file: string, env: Record<string, string>) =>
    execFileSync(process.execPath, [path.join(pkg, 'bench', file)], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { case: string })
  const append = run('append.bench.ts', { MI_BENCH_SECONDS: '0.2' })
  t.is(append.length, 5)
  const rec = run('recovery.bench.ts', { MI_BENCH_GIB: '0.005' })
  t.regex(rec[0]!.case, /recovery/)
})
