// workerNice lowers the priority of the subscriber's worker thread only, never the server's main
// thread (nice values are per thread on Linux): checked in a real worker thread.
import { readlinkSync } from 'node:fs'
import { getPriority } from 'node:os'
import { Worker } from 'node:worker_threads'
import test from 'ava'
import { niceThisWorker } from '../src/nice.ts'

const linux = process.platform === 'linux'

test('renices the calling worker thread, not the process', async (t) => {
  if (!linux) return t.pass('per-thread nice is Linux only')
  const before = getPriority()
  t.false(niceThisWorker(7), 'the main thread is never reniced')
  const src = `
    const { parentPort } = require('node:worker_threads')
    const { readlinkSync } = require('node:fs')
    const { getPriority } = require('node:os')
    import(${JSON.stringify(new URL('../src/nice.ts', import.meta.url).href)}).then((m) => {
      const ok = m.niceThisWorker(7)
      const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1))
      parentPort.postMessage({ ok, tid, nice: getPriority(tid) })
    })`
  const w = new Worker(src, { eval: true })
  const got = await new Promise<{ ok: boolean; tid: number; nice: number }>((resolve, reject) => {
    w.once('message', resolve)
    w.once('error', reject)
  })
  await w.terminate()
  t.true(got.ok)
  t.is(got.nice, Math.max(before, 7))
  t.not(got.tid, process.pid)
  t.is(getPriority(), before, 'the process (main thread) keeps its priority')
  t.is(getPriority(Number(readlinkSync('/proc/thread-self').split('/').at(-1))), before)
})
