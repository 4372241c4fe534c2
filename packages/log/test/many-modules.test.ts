// Issue 11 item 3 (log side): with tens of thousands of modules, a checkpoint is not the whole
// module → HWM map rewritten every time: the map goes to a snapshot (hwm.0|1) now and then, and
// checkpoints carry only the modules that changed since. HWMs stay exact across restarts and crashes.
import fs from 'node:fs'
import path from 'node:path'
import test from 'ava'
import { crash, openLog } from '../src/internal.ts'
import { nowUs, tmpDir } from './helpers.ts'

const kModules = 20_000

test('checkpoints carry only changed module HWMs; every HWM survives reopen and crash', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir, { checkpointIntervalMs: 60_000 })
  const one = new Uint8Array([1])
  for (let i = 0; i < kModules; i++) {
    log.append({
      module: `sensor-${i}`,
      core: '',
      seq: BigInt(i + 1),
      rts: nowUs(),
      records: [{ stream: 's', ts: nowUs(), body: one }],
    })
    if (i % 2000 === 1999) await log.sync()
  }
  await log.close() // checkpoint at close: a full snapshot (everything changed)
  const cpSize = () =>
    Math.max(...['checkpoint.0', 'checkpoint.1'].map((f) => fs.statSync(path.join(dir, f)).size))
  const snapSizes = () =>
    ['hwm.0', 'hwm.1']
      .filter((f) => fs.existsSync(path.join(dir, f)))
      .map((f) => fs.statSync(path.join(dir, f)).size)
  t.true(Math.max(...snapSizes()) > kModules * 10, 'the snapshot holds every module')

  // A few active modules: each checkpoint is small, the snapshot is not rewritten.
  const log2 = await openLog(dir, { checkpointIntervalMs: 60_000 })
  t.is(log2.moduleHwm('sensor-12345'), 12346n)
  await log2.close() // (the first checkpoint after open writes a fresh snapshot)
  const log3 = await openLog(dir, { checkpointIntervalMs: 60_000, checkpointIntervalBytes: 1 })
  const before = snapSizes()
  for (let round = 0; round < 20; round++) {
    for (let k = 0; k < 5; k++) {
      const m = `sensor-${k}`
      log3.append({
        module: m,
        core: '',
        seq: log3.moduleHwm(m) + 1n,
        rts: nowUs(),
        records: [{ stream: 's', ts: nowUs(), body: one }],
      })
    }
    await log3.sync()
    await new Promise((r) => setTimeout(r, 5))
  }
  await new Promise((r) => setTimeout(r, 50))
  t.true(cpSize() < 4096, `a checkpoint with 5 active modules out of ${kModules} is small (${cpSize()} B)`)
  t.deepEqual(snapSizes().length, before.length)
  t.log(`snapshot ${Math.max(...snapSizes())} B, checkpoint ${cpSize()} B`)
  const hwm0 = log3.moduleHwm('sensor-0')
  crash(log3) // recovery: snapshot + the newest checkpoint's changes + scan since it
  const log4 = await openLog(dir)
  t.is(log4.moduleHwm('sensor-0'), hwm0)
  t.is(log4.moduleHwm('sensor-4'), 5n + 20n)
  t.is(log4.moduleHwm('sensor-19999'), 20000n)
  t.is(log4.moduleHwm('sensor-7'), 8n)
  await log4.close()
})

test('idle modules leave memory; a returning module still gets its duplicates detected', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir, { moduleIdleMs: 30, checkpointIntervalMs: 60_000 })
  t.teardown(() => log.close())
  const one = new Uint8Array([1])
  const append = (m: string, seq: bigint) =>
    log.append({ module: m, core: '', seq, rts: nowUs(), records: [{ stream: 's', ts: nowUs(), body: one }] })
  for (let i = 0; i < 500; i++) append(`idle-${i}`, 7n)
  await log.sync()
  t.is(log.stats().modulesInMemory, 500)
  // An active module stays while the others go (a full HWM snapshot is written for them first).
  for (let i = 0; i < 500 && log.stats().modulesInMemory > 1; i++) {
    append('busy', log.moduleHwm('busy') + 1n)
    await log.sync()
    await new Promise((r) => setTimeout(r, 5))
  }
  t.is(log.stats().modulesInMemory, 1, 'only the active module is in memory')
  // The engine's duplicate check: a resent old seq is at or below the module's HWM.
  t.is(log.moduleHwm('idle-42'), 7n, 'read back from the snapshot on disk')
  t.true(5n <= log.moduleHwm('idle-42'), 'seq 5 is a duplicate')
  t.is(log.moduleHwm('never-seen'), 0n)
  append('idle-43', 9n) // a returning module writing goes on from its mark
  await log.sync()
  t.is(log.moduleHwm('idle-43'), 9n)
  t.is(log.moduleHwm('idle-44'), 7n)
  crash(log)
  const log2 = await openLog(dir)
  t.is(log2.moduleHwm('idle-42'), 7n, 'evicted marks survive a crash')
  t.is(log2.moduleHwm('idle-43'), 9n)
  t.is(log2.moduleHwm('idle-499'), 7n)
  await log2.close()
})
