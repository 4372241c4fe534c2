// Keeps bench/upload.bench.ts from rotting: a cut-down run, no numbers asserted.
import test from 'ava'
import { runBench } from '../bench/upload.bench.ts'

test('upload bench runs end to end', async (t) => {
  const rows = await runBench({ windows: 2, windowRecords: 100, bodyBytes: 128, backlogMiB: 0 })
  t.is(rows.length, 3)
  for (const row of rows) {
    t.is(row.records, 200)
    t.true(row.mb_per_s > 0)
  }
})
