// writer.pid: one rule for "a live process holds the directory", shared by openLog, the raw repair
// tools and acquireRepairLock (src/lock.ts).
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { acquireRepairLock, crash, openLog, readWriterLock, truncateSegmentTail } from '../src/internal.ts'
import { tmpDir } from './helpers.ts'

const lockTs = fileURLToPath(new URL('../src/lock.ts', import.meta.url))
const rawTs = fileURLToPath(new URL('../src/raw.ts', import.meta.url))

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' })
  return Number(r.stdout.trim())
}

test('a repair lock refuses openLog (same process) until released', async (t) => {
  const dir = tmpDir(t)
  await (await openLog(dir)).close()
  const lock = await acquireRepairLock(dir)
  t.deepEqual(readWriterLock(dir), { pid: process.pid, live: true })
  await t.throwsAsync(openLog(dir), { code: 'MI_ERR_LOG_LOCKED' })
  await t.throwsAsync(acquireRepairLock(dir), { code: 'MI_ERR_LOG_LOCKED' }, 'one repair at a time')
  await truncateSegmentTail(dir, 1, 16) // the raw tools run under our own repair lock
  await lock.release()
  t.false(fs.existsSync(path.join(dir, 'writer.pid')))
  const log = await openLog(dir)
  await t.throwsAsync(acquireRepairLock(dir), { code: 'MI_ERR_LOG_LOCKED' }, 'no repair beside a writer')
  await t.throwsAsync(truncateSegmentTail(dir, 1, 16), { code: 'MI_ERR_LOG_LOCKED' })
  await log.close()
})

test('a repair lock held by another process refuses a server; it turns stale when that process dies', async (t) => {
  const dir = tmpDir(t)
  await (await openLog(dir)).close()
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { acquireRepairLock } from ${JSON.stringify(lockTs)}
       await acquireRepairLock(${JSON.stringify(dir)}); console.log('READY'); setInterval(() => {}, 1000)`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  t.teardown(() => child.kill('SIGKILL'))
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d: Buffer) => d.includes('READY') && resolve()),
  )
  const err = await t.throwsAsync(openLog(dir), { code: 'MI_ERR_LOG_LOCKED' })
  t.true(err!.message.includes(`pid ${child.pid}`), err!.message)
  child.kill('SIGKILL')
  await new Promise((r) => child.once('exit', r))
  const log = await openLog(dir) // the stale lock is broken
  t.is(fs.readFileSync(path.join(dir, 'writer.pid'), 'utf8').split('\n')[0], String(process.pid))
  await log.close()
})

test('stale or unreadable writer.pid files are broken; a crashed writer of this process too', async (t) => {
  const dir = tmpDir(t)
  for (const content of [String(deadPid()), '', 'garbage']) {
    fs.writeFileSync(path.join(dir, 'writer.pid'), content)
    t.false(readWriterLock(dir).live)
    await (await openLog(dir)).close()
  }
  const log = await openLog(dir)
  crash(log)
  t.deepEqual(readWriterLock(dir), { pid: process.pid, live: false })
  await (await openLog(dir)).close()
  t.deepEqual(
    fs.readdirSync(dir).filter((f) => f.startsWith('writer.pid')),
    [],
    'no tmp/stale files left',
  )
})

test('EPERM from kill(pid, 0) means alive: a repair tool under another user refuses (regression)', async (t) => {
  if (process.getuid?.() !== 0) {
    t.log('SKIPPED: needs root to run a child under another uid')
    t.pass()
    return
  }
  const dir = tmpDir(t)
  await (await openLog(dir)).close()
  fs.chmodSync(dir, 0o755)
  // writer.pid names us (root): for a `nobody` child, kill(ourPid, 0) fails with EPERM.
  const lock = await acquireRepairLock(dir)
  t.teardown(() => lock.release())
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { truncateSegmentTail } from ${JSON.stringify(rawTs)}
       import { pidAlive, readWriterLock } from ${JSON.stringify(lockTs)}
       console.log(JSON.stringify({ alive: pidAlive(process.ppid), lock: readWriterLock(${JSON.stringify(dir)}) }))
       try { await truncateSegmentTail(${JSON.stringify(dir)}, 1, 16); console.log('truncated') }
       catch (err) { console.log(err.code) }`,
    ],
    { uid: 65534, gid: 65534, encoding: 'utf8' },
  )
  t.is(r.status, 0, r.stderr)
  const [first, second] = r.stdout.trim().split('\n')
  t.deepEqual(JSON.parse(first!), { alive: true, lock: { pid: process.pid, live: true } })
  t.is(second, 'MI_ERR_LOG_LOCKED')
})
