/**
 * Log.commitSync(): the caller-driven group commit of the engine's writer worker (blocking writev +
 * fdatasync on the calling thread). Same durability contract as the async pump: what it reports
 * durable is readable after a crash; a failed write makes the log unavailable and drops only what
 * no fdatasync covered; segment rolls still happen (handed to the async path).
 */
import test from 'ava'
import { crash, openLog, openReader, realIo, setIo } from '../src/internal.ts'
import { nowUs, tmpDir } from './helpers.ts'

const rec = (s: string) => ({ stream: 'st', ts: 1, body: Buffer.from(s) })

test('commitSync writes and syncs every formed group at once; the log then leaves commits to its caller', async (t) => {
  const dir = tmpDir(t)
  const durable: number[] = []
  const commits: number[] = []
  const log = await openLog(dir, { onCommit: (c) => commits.push(c.records) })
  log.onDurable((lsn) => durable.push(lsn))
  t.is(log.commitSync(), 'idle')
  for (let i = 1; i <= 10; i++)
    log.append({ module: 'm', core: '', seq: BigInt(i), rts: nowUs(), records: [rec(`v${i}`)] })
  t.is(log.durableLsn, 0)
  t.is(log.commitSync(), 'written')
  t.is(log.durableLsn, 10)
  t.deepEqual(durable, [10])
  t.deepEqual(commits, [10])
  // Nothing is scheduled behind the caller's back: an append stays pending until the next call.
  log.append({ module: 'm', core: 'c', seq: 11n, rts: nowUs(), records: [rec('v11'), rec('v12')] })
  await new Promise((r) => setTimeout(r, 20))
  t.is(log.durableLsn, 10)
  t.is(log.commitSync(), 'written')
  t.is(log.durableLsn, 12)
  // sync() still works (the async path serves its waiters).
  log.append({ module: 'm', core: '', seq: 12n, rts: nowUs(), records: [rec('v13')] })
  await log.sync()
  t.is(log.durableLsn, 13)
  crash(log)
  const reader = await openReader(dir)
  const recs = await reader.cursor().read()
  t.deepEqual(
    recs.map((r) => [r.lsn, r.core, Buffer.from(r.body).toString()]),
    [
      ...Array.from({ length: 10 }, (_, i) => [i + 1, '', `v${i + 1}`]),
      [11, 'c', 'v11'],
      [12, 'c', 'v12'],
      [13, '', 'v13'],
    ],
  )
  await reader.close()
})

test('commitSync across segment rolls keeps every record, in order', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir, { segmentSizeBytes: 8192, groupCommitMaxBytes: 1024 })
  const body = 'x'.repeat(300)
  let seq = 0n
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 5; i++) {
      seq++
      log.append({ module: 'm', core: '', seq, rts: nowUs(), records: [rec(`${seq}:${body}`)] })
    }
    // 'busy' while the async path rolls the segment: let it run, as the writer worker does.
    while (log.commitSync() === 'busy') await new Promise((r) => setImmediate(r))
  }
  while (log.durableLsn < Number(seq)) {
    if (log.commitSync() === 'busy') await new Promise((r) => setImmediate(r))
  }
  t.true(log.stats().segments > 3, 'rolled several times')
  await log.close()
  const reader = await openReader(dir)
  const recs = await reader.cursor().read({ maxRecords: 1000 })
  t.is(recs.length, Number(seq))
  t.deepEqual(
    recs.map((r) => Buffer.from(r.body).toString().split(':')[0]),
    Array.from({ length: Number(seq) }, (_, i) => String(i + 1)),
  )
  await reader.close()
})

test('a failed synchronous write makes the log unavailable and keeps what was durable', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir, { retryIntervalMs: 20 })
  let failing = false
  const enospc = () => Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })
  setIo(log, {
    ...realIo,
    writevSync(fd, b, p) {
      if (failing) throw enospc()
      return realIo.writevSync(fd, b, p)
    },
    fdatasyncSync(fd) {
      if (failing) throw enospc()
      realIo.fdatasyncSync(fd)
    },
  })
  const errors: Error[] = []
  log.onError((e) => errors.push(e))
  log.append({ module: 'm', core: '', seq: 1n, rts: nowUs(), records: [rec('v1')] })
  t.is(log.commitSync(), 'written')
  failing = true
  log.append({ module: 'm', core: '', seq: 2n, rts: nowUs(), records: [rec('v2')] })
  log.commitSync()
  t.is(log.stats().state, 'unavailable')
  t.is(errors.length, 1)
  t.is(log.durableLsn, 1)
  t.is(log.moduleHwm('m'), 1n)
  failing = false
  t.true(await log.retry())
  log.append({ module: 'm', core: '', seq: 2n, rts: nowUs(), records: [rec('v2 again')] })
  t.is(log.commitSync(), 'written')
  await log.close()
  const reader = await openReader(dir)
  const recs = await reader.cursor().read()
  t.deepEqual(
    recs.map((r) => Buffer.from(r.body).toString()),
    ['v1', 'v2 again'],
  )
  await reader.close()
})

test('commitAsync hands the formed groups to the async pump; commitSync is busy until it drained', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir)
  for (let i = 1; i <= 5; i++)
    log.append({ module: 'm', core: '', seq: BigInt(i), rts: nowUs(), records: [rec(`v${i}`)] })
  log.commitAsync()
  t.is(log.commitSync(), 'busy')
  while (log.durableLsn < 5) await new Promise((r) => setImmediate(r))
  // Drained: the caller commits synchronously again.
  while (log.commitSync() === 'busy') await new Promise((r) => setImmediate(r))
  log.append({ module: 'm', core: '', seq: 6n, rts: nowUs(), records: [rec('v6')] })
  t.is(log.commitSync(), 'written')
  t.is(log.durableLsn, 6)
  await log.close()
  const reader = await openReader(dir)
  t.is((await reader.cursor().read()).length, 6)
  await reader.close()
})
