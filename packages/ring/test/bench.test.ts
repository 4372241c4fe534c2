// Runs a cut-down ring.bench.ts so the bench cannot rot. It asserts only that every record
// arrived (the bench itself throws otherwise), never how fast: speed lives in bench/.
import test from 'ava'
import { runBench } from '../bench/ring.bench.ts'

test('bench smoke run: every transport and record size completes', async (t) => {
  const results = await runBench(0.001, 1)
  t.is(results.length, 8)
  for (const r of results)
    t.true(r.records > 0 && Number.isFinite(r.recordsPerSec), `${r.name} ${r.recordBytes} B`)
})
