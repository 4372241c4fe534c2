import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import test from 'ava'

// Runs a cut-down bench so it cannot rot; the numbers are not asserted.
test('archive bench runs', async (t) => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [new URL('../bench/archive.bench.ts', import.meta.url).pathname],
    { env: { ...process.env, MI_BENCH_RECORDS: '20000' } },
  )
  const rows = JSON.parse(stdout.trim().split('\n').at(-1)!) as { records_per_s: number }[]
  t.is(rows.length, 5)
  for (const row of rows) t.true(row.records_per_s > 0)
})
