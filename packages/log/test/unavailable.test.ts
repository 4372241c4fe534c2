import test from 'ava'
import { openLog, openReader, realIo, setIo, type WriterIo } from '../src/internal.ts'
import { nowUs, tmpDir } from './helpers.ts'

function faultyIo(): WriterIo & { failing: boolean } {
  const enospc = () => Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })
  const io = {
    failing: false,
    async writev(fd: number, b: Uint8Array[], p: number) {
      if (io.failing) throw enospc()
      return realIo.writev(fd, b, p)
    },
    async fdatasync(fd: number) {
      if (io.failing) throw enospc()
      return realIo.fdatasync(fd)
    },
    ftruncate: realIo.ftruncate,
    writevSync(fd: number, b: Uint8Array[], p: number) {
      if (io.failing) throw enospc()
      return realIo.writevSync(fd, b, p)
    },
    fdatasyncSync(fd: number) {
      if (io.failing) throw enospc()
      realIo.fdatasyncSync(fd)
    },
  }
  return io
}

test('ENOSPC: append throws MI_ERR_LOG_UNAVAILABLE, durable data is kept, the writer resumes', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir, { retryIntervalMs: 20 })
  const io = faultyIo()
  setIo(log, io)
  const errors: Error[] = []
  log.onError((e) => errors.push(e))
  let resumed = 0
  log.onResume(() => resumed++)
  const add = (seq: bigint, mod = 'm') =>
    log.append({
      module: mod,
      core: '',
      seq,
      rts: nowUs(),
      records: [{ stream: 's', ts: 1, body: Buffer.from(`v${seq}`) }],
    })
  add(1n)
  add(2n)
  await log.sync()
  io.failing = true
  add(3n)
  add(1n, 'new-module')
  t.is(log.moduleHwm('m'), 3n)
  await t.throwsAsync(log.sync(), { code: 'MI_ERR_LOG_UNAVAILABLE' })
  t.is(errors.length, 1)
  t.is((errors[0] as { code?: string }).code, 'MI_ERR_LOG_UNAVAILABLE')
  t.throws(() => add(4n), { code: 'MI_ERR_LOG_UNAVAILABLE' })
  t.is(log.durableLsn, 2)
  t.is(log.moduleHwm('m'), 2n, 'HWM falls back to the durable one: the client resends seq 3')
  t.is(log.stats().state, 'unavailable')
  t.false(await log.retry())
  io.failing = false
  await new Promise<void>((r) => {
    const off = log.onResume(() => {
      off()
      r()
    })
    if (log.stats().state === 'open') r()
  })
  t.true(resumed >= 1)
  t.deepEqual(add(3n), { firstLsn: 3, lastLsn: 3 })
  add(1n, 'new-module')
  await log.sync()
  await log.close()
  const reader = await openReader(dir)
  const recs = await reader.cursor().read()
  t.deepEqual(
    recs.map((r) => [r.lsn, r.module, Buffer.from(r.body).toString()]),
    [
      [1, 'm', 'v1'],
      [2, 'm', 'v2'],
      [3, 'm', 'v3'],
      [4, 'new-module', 'v1'],
    ],
  )
  await reader.close()
})

test('options are validated with the option path', async (t) => {
  const dir = tmpDir(t)
  await t.throwsAsync(openLog(dir, { segmentSizeBytes: 10 }), {
    code: 'MI_ERR_LOG_OPTION_INVALID',
    message: /segmentSizeBytes/,
  })
  await t.throwsAsync(openLog(dir, { flush: 'sometimes' as 'always' }), { code: 'MI_ERR_LOG_OPTION_INVALID' })
  const log = await openLog(dir)
  t.throws(() => log.append({ module: '', core: '', seq: 1n, rts: 1, records: [] }), {
    code: 'MI_ERR_LOG_APPEND_INVALID',
  })
  t.throws(
    () =>
      log.append({
        module: 'm',
        core: '',
        seq: 1 as unknown as bigint,
        rts: 1,
        records: [{ stream: 's', ts: 1, body: new Uint8Array() }],
      }),
    {
      code: 'MI_ERR_LOG_APPEND_INVALID',
    },
  )
  await log.close()
  t.throws(
    () =>
      log.append({
        module: 'm',
        core: '',
        seq: 1n,
        rts: 1,
        records: [{ stream: 's', ts: 1, body: new Uint8Array() }],
      }),
    {
      code: 'MI_ERR_LOG_CLOSED',
    },
  )
})
