/**
 * Test-only fault: `MI_TEST_GROW_HEAP=<worker>:<file>` makes the named data-path worker (`writer`,
 * `parser-0`, ...) grow its heap without bound once `<file>` exists, so a test can show what a
 * heap that runs away does to a real server (workers.*HeapMb; test/worker-heap.test.ts). Unset in
 * production: the check is one environment lookup at worker start.
 */
import { existsSync } from 'node:fs'

export function armHeapGrowth(worker: string): void {
  const spec = process.env.MI_TEST_GROW_HEAP
  if (!spec?.startsWith(`${worker}:`)) return
  const file = spec.slice(worker.length + 1)
  const hoard: unknown[] = []
  // Plain objects, not Buffers: Buffer bytes live outside the V8 heap the cap limits.
  setInterval(() => {
    if (existsSync(file)) for (let i = 0; i < 100_000; i++) hoard.push({ i, s: `grow-${i}` })
  }, 20).unref()
}
