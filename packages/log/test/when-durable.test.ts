/**
 * Log.whenDurable(lsn): how the engine's writer waits for subscribers' derived records. Under flush
 * 'always' it asks for no commit of its own (the records share the next group's fdatasync) and keeps
 * sync()'s contract: it resolves only once a covering fdatasync returned, and rejects when the log
 * drops the append (its lsn is reused later). Under 'interval'/'none' it is sync().
 * Also here: group buffers are recycled once durable, so records must read back exactly.
 */
import test from 'ava'
import { crash, openLog, openReader, realIo, setIo } from '../src/internal.ts'
import { nowUs, tmpDir } from './helpers.ts'

const rec = (s: string) => ({ stream: 'st', ts: 1, body: Buffer.from(s) })
const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms))

/** Count fdatasyncs (both paths) on a log. */
function countSyncs(log: Awaited<ReturnType<typeof openLog>>): { n: number } {
  const c = { n: 0 }
  setIo(log, {
    ...realIo,
    fdatasync(fd) {
      c.n++
      return realIo.fdatasync(fd)
    },
    fdatasyncSync(fd) {
      c.n++
      realIo.fdatasyncSync(fd)
    },
  })
  return c
}

test("flush 'always': whenDurable waits for the caller's next group commit and adds no fdatasync", async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir)
  t.is(log.commitSync(), 'idle') // the caller drives commits, as the writer worker does
  // Names known first: a new name's catalog entry has an fdatasync of its own.
  log.append({ module: 'mi:sub', core: '', seq: 1n, rts: nowUs(), records: [rec('d0')] })
  log.append({ module: 'm', core: '', seq: 1n, rts: nowUs(), records: [rec('i0')] })
  t.is(log.commitSync(), 'written')
  const syncs = countSyncs(log)
  const { lastLsn } = log.append({ module: 'mi:sub', core: '', seq: 2n, rts: nowUs(), records: [rec('d1')] })
  let done = false
  const p = log.whenDurable(lastLsn).then(() => {
    done = true
  })
  await tick()
  t.false(done, 'not durable before a commit covered it')
  t.is(syncs.n, 0, 'it forced no commit')
  // Ingest keeps appending; its group commit covers the derived record too.
  log.append({ module: 'm', core: '', seq: 2n, rts: nowUs(), records: [rec('i1'), rec('i2')] })
  t.is(log.commitSync(), 'written')
  await p
  t.true(done)
  t.is(syncs.n, 1, 'one fdatasync for the ingest and the derived records')
  t.is(log.durableLsn, 5)
  // Already durable: resolves at once.
  await log.whenDurable(4)
  crash(log)
  const reader = await openReader(dir)
  t.deepEqual(
    (await reader.cursor().read()).map((r) => Buffer.from(r.body).toString()),
    ['d0', 'i0', 'd1', 'i1', 'i2'],
  )
  await reader.close()
})

test('whenDurable rejects when the log drops the append; the reused lsn does not resolve it', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir, { retryIntervalMs: 20 })
  let failing = false
  const eio = () => Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })
  setIo(log, {
    ...realIo,
    fdatasyncSync(fd) {
      if (failing) throw eio()
      realIo.fdatasyncSync(fd)
    },
  })
  log.onError(() => {})
  log.append({ module: 'm', core: '', seq: 1n, rts: nowUs(), records: [rec('v1')] })
  t.is(log.commitSync(), 'written')
  failing = true
  const { lastLsn } = log.append({
    module: 'mi:sub',
    core: '',
    seq: 1n,
    rts: nowUs(),
    records: [rec('lost')],
  })
  t.is(lastLsn, 2)
  const p = log.whenDurable(lastLsn)
  log.commitSync() // written, but its fdatasync failed: not durable
  await t.throwsAsync(p)
  t.is(log.durableLsn, 1)
  failing = false
  t.true(await log.retry())
  // lsn 2 now belongs to another append; the retried derived record gets its own.
  log.append({ module: 'm', core: '', seq: 2n, rts: nowUs(), records: [rec('v2')] })
  const again = log.append({ module: 'mi:sub', core: '', seq: 1n, rts: nowUs(), records: [rec('d1')] })
  const q = log.whenDurable(again.lastLsn)
  t.is(log.commitSync(), 'written')
  await q
  await log.close()
  await t.throwsAsync(log.whenDurable(1), undefined, 'closed: rejects like sync()')
  const reader = await openReader(dir)
  t.deepEqual(
    (await reader.cursor().read()).map((r) => Buffer.from(r.body).toString()),
    ['v1', 'v2', 'd1'],
  )
  await reader.close()
})

test('whenDurable waiters resolve at close (close syncs) and reject at a crash', async (t) => {
  const log = await openLog(tmpDir(t))
  log.commitSync()
  const a = log.append({ module: 'm', core: '', seq: 1n, rts: nowUs(), records: [rec('a')] })
  const p = log.whenDurable(a.lastLsn)
  await log.close()
  await p
  const log2 = await openLog(tmpDir(t))
  log2.commitSync()
  const b = log2.append({ module: 'm', core: '', seq: 1n, rts: nowUs(), records: [rec('b')] })
  const q = log2.whenDurable(b.lastLsn)
  await crash(log2)
  await t.throwsAsync(q)
})

for (const flush of ['interval', 'none'] as const) {
  test(`flush '${flush}': whenDurable is sync() (an fdatasync of its own, no commitSync needed)`, async (t) => {
    const log = await openLog(tmpDir(t), { flush, flushIntervalMs: 60_000 })
    log.commitSync()
    const syncs = countSyncs(log)
    const { lastLsn } = log.append({ module: 'm', core: '', seq: 1n, rts: nowUs(), records: [rec('x')] })
    await log.whenDurable(lastLsn)
    t.is(log.durableLsn, lastLsn)
    t.true(syncs.n >= 1, 'fdatasynced before resolving')
    await log.close()
  })
}

test('recycled group buffers: every record reads back as appended, over sync, async and pumped commits', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir, { groupCommitMaxBytes: 4096 })
  const want: string[] = []
  let seq = 0n
  const append = (n: number, size: number) => {
    const records = []
    for (let i = 0; i < n; i++) {
      const s = `${want.length}:${String.fromCharCode(97 + (want.length % 26)).repeat(size)}`
      want.push(s)
      records.push(rec(s))
    }
    log.append({ module: 'm', core: '', seq: ++seq, rts: nowUs(), records })
  }
  for (let round = 0; round < 60; round++) {
    // Groups of very different sizes, so a recycled buffer is sometimes too small, sometimes big.
    append(1 + (round % 7), round % 3 === 0 ? 2000 : 10)
    append(round % 5 === 0 ? 20 : 1, 50)
    if (round % 4 === 0) await log.sync()
    else if (round % 4 === 1) log.commitAsync()
    while (log.commitSync() === 'busy') await new Promise((r) => setImmediate(r))
  }
  await log.close()
  const reader = await openReader(dir)
  const got = (await reader.cursor().read({ maxRecords: 10_000 })).map((r) => Buffer.from(r.body).toString())
  t.is(got.length, want.length)
  t.deepEqual(got, want)
  await reader.close()
})
