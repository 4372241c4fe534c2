import { Worker } from 'node:worker_threads'
import test from 'ava'
import { Metrics, type MetricsSnapshot } from '../src/index.ts'

function runWorker(count: number, base: number): Promise<MetricsSnapshot> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./fixtures/metrics-worker.ts', import.meta.url), {
      workerData: { count, base },
    })
    w.once('message', (snap: MetricsSnapshot) => {
      resolve(snap)
      void w.terminate()
    })
    w.once('error', reject)
  })
}

test('snapshots from real worker threads merge on the main thread', async (t) => {
  const main = new Metrics()
  main.counter('mi_frames_total', 'Frames parsed').inc(1)
  const [a, b] = await Promise.all([runWorker(100, 0), runWorker(50, 1000)])
  main.mergeFrom('parser-0', a)
  main.mergeFrom('parser-1', b)
  const s = main.summary()
  t.is(s.counters.find((c) => c.name === 'mi_frames_total')?.value, 151)
  t.is(s.counters.find((c) => c.name === 'mi_errors_total')?.value, 4)
  const h = s.histograms.find((x) => x.name === 'mi_parse_latency_us')
  t.is(h?.count, 150)
  t.is(h?.sum, (100 * 101) / 2 + 50 * 1000 + (50 * 51) / 2)
  t.true(Math.abs((h?.max ?? 0) - 1050) <= 1)
  t.true((h?.p50 ?? 0) >= 70 && (h?.p50 ?? 0) <= 80)
  t.deepEqual(main.sources.sort(), ['parser-0', 'parser-1'])
})
