// Nothing to deliver (an empty log, a bound already reached): close() does not wait out
// closeTimeoutMs for workers that never loaded the plugin (queue-worker idled 10 s on an empty job).
import test from 'ava'
import { startSubscribers } from '../src/index.ts'
import { captureLogger, collectEmits, fixture, tempDir, writeRecords } from './fixtures/_harness.ts'

test('finished with nothing delivered: close() returns without waiting out closeTimeoutMs', async (t) => {
  const dir = tempDir(t)
  await writeRecords(dir, 0)
  const { emit } = collectEmits()
  const rt = await startSubscribers({
    dataDir: dir,
    logger: captureLogger(),
    emit,
    // Longer than the test's own timeout: if close() waits for it, the test fails by timing out.
    closeTimeoutMs: 600_000,
    subscribers: [
      { name: 'idle', use: fixture('_ok-plugin.ts'), options: { out: `${dir}/x` }, until: { lsn: 0 } },
    ],
  })
  await rt.finished()
  await rt.close()
  t.is(rt.stats()[0]!.delivered, 0)
})
