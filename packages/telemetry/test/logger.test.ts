import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import test from 'ava'
import { attachWorkerLogs, createLogger, getRecentLogs, MemoryLogRing } from '../src/index.ts'

test('memory ring keeps the last N lines, oldest first', (t) => {
  const ring = new MemoryLogRing(3)
  t.deepEqual(ring.recent(), [])
  for (const l of ['a\n', 'b\n', 'c\n', 'd\n']) ring.write(l)
  t.deepEqual(ring.recent(), ['b', 'c', 'd'])
  t.deepEqual(ring.recent(2), ['c', 'd'])
  t.deepEqual(ring.recent(10), ['b', 'c', 'd'])
  t.deepEqual(ring.recent(0), [])
  t.throws(() => new MemoryLogRing(0))
})

test('logger writes JSON to a file and to the memory ring; children share the ring', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mi-tel-'))
  const file = join(dir, 'nested', 'server.log')
  const log = createLogger({ level: 'debug', file, stdout: false, memoryLines: 2 })
  log.trace('not logged')
  log.debug('one')
  log.child({ worker: 'x' }).info({ k: 1 }, 'two')
  log.warn('three')
  const lines = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
  t.deepEqual(
    lines.map((l) => l.msg),
    ['one', 'two', 'three'],
  )
  t.is(lines[1].worker, 'x')
  const recent = getRecentLogs(log).map((l) => JSON.parse(l))
  t.deepEqual(
    recent.map((l) => l.msg),
    ['two', 'three'],
  )
  t.deepEqual(
    getRecentLogs(log.child({}), 1).map((l) => JSON.parse(l).msg),
    ['three'],
  )
})

test('worker threads log through the main thread', async (t) => {
  const log = createLogger({ level: 'info', stdout: false, memoryLines: 10 })
  const worker = new Worker(new URL('./fixtures/log-worker.ts', import.meta.url), {
    workerData: { name: 'parser-0' },
  })
  const detach = attachWorkerLogs(worker, log)
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (m) => m.code === 'DONE' && resolve())
    worker.once('error', reject)
  })
  detach()
  await worker.terminate()
  const lines = getRecentLogs(log).map((l) => JSON.parse(l))
  // 'debug' was logged in the worker but the main logger is at info.
  t.deepEqual(
    lines.map((l) => l.msg),
    ['hello from worker', 'bad thing'],
  )
  t.is(lines[0].worker, 'parser-0')
  t.is(lines[0].n, 1)
  t.is(lines[1].level, 50)
})
