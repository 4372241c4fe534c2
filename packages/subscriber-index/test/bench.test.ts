// The benchmark still runs (tiny sizes): its numbers live in the README, not in assertions.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import test from 'ava'

test('bench/index.bench.ts runs and reports apply rates and query latencies', async (t) => {
  const bench = fileURLToPath(new URL('../bench/index.bench.ts', import.meta.url))
  const out = await new Promise<string>((resolve, reject) =>
    execFile(
      process.execPath,
      [bench, '--records', '2000', '--queries', '3', '--json'],
      { timeout: 90_000 },
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    ),
  )
  const r = JSON.parse(out) as { records: number; rangeQuery: { buckets: number; http: { p99: number } } }
  t.is(r.records, 2000)
  t.true(r.rangeQuery.buckets > 0)
  t.true(r.rangeQuery.http.p99 > 0)
})
