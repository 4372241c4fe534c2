// subscribers[].nice (or the plugin's `nice`) is the priority of the subscriber's worker threads
// only, set before the plugin's init; the server's main thread keeps its own. Real threads, read
// back from the kernel (nice values are per thread on Linux).
import { readlinkSync } from 'node:fs'
import { getPriority } from 'node:os'
import { Worker } from 'node:worker_threads'
import test, { type ExecutionContext } from 'ava'
import { resolveSubscriberConfig } from '../src/config.ts'
import { startSubscribers } from '../src/index.ts'
import { setThreadNice } from '../src/nice.ts'
import {
  captureLogger,
  collectEmits,
  fixture,
  type LogLine,
  tempDir,
  writeRecords,
} from './fixtures/_harness.ts'

const linux = process.platform === 'linux'
const myTid = () => Number(readlinkSync('/proc/thread-self').split('/').at(-1))

test('setThreadNice renices the calling worker thread, not the process', async (t) => {
  if (!linux) return t.pass('per-thread nice is Linux only')
  const before = getPriority()
  t.is(setThreadNice(7), null, 'the main thread is never reniced')
  const src = `
    const { parentPort } = require('node:worker_threads')
    const { readlinkSync } = require('node:fs')
    const { getPriority } = require('node:os')
    import(${JSON.stringify(new URL('../src/nice.ts', import.meta.url).href)}).then((m) => {
      const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1))
      const first = m.setThreadNice(7, { onlyLower: true })
      // onlyLower: a lower setting afterwards leaves the thread where it is.
      const second = m.setThreadNice(3, { onlyLower: true })
      parentPort.postMessage({ first, second, tid, nice: getPriority(tid) })
    })`
  const w = new Worker(src, { eval: true })
  const got = await new Promise<{ first: number; second: number; tid: number; nice: number }>(
    (resolve, reject) => {
      w.once('message', resolve)
      w.once('error', reject)
    },
  )
  await w.terminate()
  t.is(got.first, Math.max(before, 7))
  t.is(got.second, Math.max(before, 7))
  t.is(got.nice, Math.max(before, 7))
  t.not(got.tid, process.pid)
  t.is(getPriority(), before, 'the process (main thread) keeps its priority')
  t.is(getPriority(myTid()), before)
})

async function niceSeen(t: ExecutionContext, entryNice: number | undefined) {
  const dir = tempDir(t)
  await writeRecords(dir, 3)
  const lines: LogLine[] = []
  const rt = await startSubscribers({
    dataDir: dir,
    logger: captureLogger(lines),
    emit: collectEmits().emit,
    subscribers: [
      {
        name: 'n',
        use: fixture('_nice-plugin.ts'),
        until: { lsn: 2 },
        concurrency: 2,
        ...(entryNice === undefined ? {} : { nice: entryNice }),
      },
    ],
  })
  await rt.finished()
  await rt.close()
  return lines.filter((l) => l.msg === 'NiceAtInit' || l.msg === 'NiceAtHandle').map((l) => l.obj.nice)
}

test("pool workers run at the plugin's nice by default, before its init", async (t) => {
  if (!linux) return t.pass('per-thread nice is Linux only')
  const before = getPriority()
  const seen = await niceSeen(t, undefined)
  t.true(seen.length >= 2, 'init and at least one batch logged')
  for (const n of seen) t.is(n, Math.max(before, 7))
  t.is(getPriority(myTid()), before, 'the host thread keeps its priority')
})

test("the entry's nice overrides the plugin's", async (t) => {
  if (!linux) return t.pass('per-thread nice is Linux only')
  const before = getPriority()
  const seen = await niceSeen(t, 12)
  t.true(seen.length >= 2)
  for (const n of seen) t.is(n, Math.max(before, 12))
})

test('nice is validated: an integer from 0 to 19', (t) => {
  const entry = { name: 'a', use: 'x' }
  t.is(resolveSubscriberConfig({ ...entry, nice: 19 }, 's[0]').nice, 19)
  t.is(resolveSubscriberConfig(entry, 's[0]').nice, undefined)
  for (const bad of [-1, 20, 1.5, '5'])
    t.throws(() => resolveSubscriberConfig({ ...entry, nice: bad as number }, 's[0]'), {
      message: /s\[0\]\.nice.*0 to 19/,
    })
})
