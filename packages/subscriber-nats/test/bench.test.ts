// Keeps bench/publish.bench.ts from rotting: a cut-down run, no numbers asserted.
import { requireNatsServerBinary } from '@module-ingest/testing'
import test from 'ava'
import { runBench } from '../bench/publish.bench.ts'

const ownNats = requireNatsServerBinary().gate(test)

ownNats('publish bench runs end to end', async (t) => {
  const rows = await runBench({ batches: 2, batchSize: 50, bodyBytes: 128 })
  t.is(rows.length, 3)
  for (const row of rows) {
    t.is(row.records, 100)
    t.true(row.records_per_s > 0)
  }
})
