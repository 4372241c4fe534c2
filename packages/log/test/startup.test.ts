// Issue 11 items 6, 8 and 9: what openLog does with what a crash, a full disk or a lost file
// leaves behind: a stale lock, leftover tmp files, a missing catalog, a failing file system.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { FaultFs, openLog, openReader, readWriterLock, setFileLayer, verifyLog } from '../src/internal.ts'
import { body, nowUs, tmpDir } from './helpers.ts'

const here = path.dirname(fileURLToPath(import.meta.url))

async function fill(dir: string, n: number, modules = 3, prefix = 'm'): Promise<void> {
  const log = await openLog(dir, { segmentSizeBytes: 4096 })
  for (let i = 0; i < n; i++) {
    const module = `${prefix}${i % modules}`
    log.append({
      module,
      core: i % 2 ? 'c' : '',
      seq: log.moduleHwm(module) + 1n,
      rts: nowUs(),
      records: [{ stream: `s${i % 4}`, ts: nowUs(), body: body(100, i) }],
    })
    if (i % 10 === 9) await log.sync()
  }
  await log.close()
}

async function readAll(dir: string): Promise<{ lsn: number; module: string; stream: string }[]> {
  const r = await openReader(dir)
  const c = r.cursor()
  const out: { lsn: number; module: string; stream: string }[] = []
  for (let got = await c.read(); got.length > 0; got = await c.read())
    for (const x of got) out.push({ lsn: x.lsn, module: x.module, stream: x.stream })
  await r.close()
  return out
}

test('a missing catalog is rebuilt from the segments; nothing is quarantined; restoring the file is harmless', async (t) => {
  const dir = tmpDir(t)
  await fill(dir, 200)
  const before = await readAll(dir)
  t.is(before.length, 200)
  t.true(fs.readdirSync(dir).filter((f) => f.endsWith('.seg')).length >= 3)
  const catalog = fs.readFileSync(path.join(dir, 'catalog'))
  fs.rmSync(path.join(dir, 'catalog'))
  for (const f of ['checkpoint.0', 'checkpoint.1']) fs.rmSync(path.join(dir, f), { force: true })

  // A reader with no catalog file learns the names from the groups.
  t.deepEqual(await readAll(dir), before, 'readers serve every record without the catalog file')

  const log = await openLog(dir)
  t.is(log.stats().recovery.catalog, 'rebuilt')
  t.deepEqual(log.stats().recovery.corruptions, [])
  t.is(log.durableLsn, 200)
  t.is(log.moduleHwm('m0'), 67n)
  await log.close()
  t.false(fs.existsSync(path.join(dir, 'quarantine.json')), 'readable CRC-valid data is never quarantined')
  t.deepEqual(fs.readFileSync(path.join(dir, 'catalog')), catalog, 'the rebuilt catalog is the original one')
  t.deepEqual(await readAll(dir), before)
  t.true((await verifyLog(dir)).ok)

  // Restoring the original over the rebuilt one changes nothing.
  fs.writeFileSync(path.join(dir, 'catalog'), catalog)
  t.deepEqual(await readAll(dir), before)
})

test('a catalog the segments cannot rebuild is refused with a coded error; nothing is changed', async (t) => {
  const dir = tmpDir(t)
  // A catalog bigger than a quarter segment is not repeated in each segment's first group: its
  // names live only in the segment that introduced them. Lose that segment and the catalog file.
  await fill(dir, 30, 30, 'x'.repeat(60))
  const catalog = fs.readFileSync(path.join(dir, 'catalog'))
  t.true(catalog.length > 1024)
  fs.rmSync(path.join(dir, 'catalog'))
  const segs = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.seg'))
    .sort()
  t.true(segs.length >= 2)
  const first = path.join(dir, segs[0]!)
  const saved = fs.readFileSync(first)
  fs.rmSync(first)
  fs.rmSync(first.replace(/\.seg$/, '.idx'), { force: true })
  const listing = fs.readdirSync(dir).sort()
  const err = await t.throwsAsync(openLog(dir), { code: 'MI_ERR_LOG_CATALOG_MISSING' })
  t.regex(err!.message, /restore .*catalog from a backup/)
  t.regex(err!.message, /module-ingest-recover-dump verify --log-dir/)
  t.deepEqual(fs.readdirSync(dir).sort(), listing, 'no empty catalog written, nothing else touched')
  t.false(readWriterLock(dir).live)
  // Restoring the files restores the data.
  fs.writeFileSync(path.join(dir, 'catalog'), catalog)
  fs.writeFileSync(first, saved)
  const log = await openLog(dir)
  t.is(log.durableLsn, 30)
  await log.close()
  t.is((await readAll(dir)).length, 30)
})

test('leftover *.tmp-* files of dead processes are removed at open', async (t) => {
  const dir = tmpDir(t)
  await fill(dir, 10)
  const dead = 2 ** 22 + 12345 // above pid_max's default: never a live process
  const junk = [
    `checkpoint.0.tmp-${dead}-1`,
    `checkpoint.1.tmp-${dead}-7`,
    `writer.pid.tmp-${dead}-2`,
    `groups/g.tmp-${dead}-3`,
  ]
  fs.mkdirSync(path.join(dir, 'groups'), { recursive: true })
  for (const j of junk) fs.writeFileSync(path.join(dir, j), '')
  const mine = `groups/h.tmp-${process.pid}-9` // a live process's commit in progress: kept
  fs.writeFileSync(path.join(dir, mine), '')
  const log = await openLog(dir)
  t.deepEqual(log.stats().recovery.removedTmpFiles?.sort(), junk.sort())
  await log.close()
  for (const j of junk) t.false(fs.existsSync(path.join(dir, j)), j)
  t.true(fs.existsSync(path.join(dir, mine)))
})

test.serial('an atomic write that fails (ENOSPC) leaves no tmp file behind', async (t) => {
  const dir = tmpDir(t)
  await fill(dir, 10)
  const ffs = new FaultFs(dir)
  setFileLayer(ffs.layer)
  t.teardown(() => setFileLayer(undefined))
  const r = await openReader(dir)
  ffs.failNext('fsync', 'ENOSPC')
  await t.throwsAsync(r.groups.commit('g', 5), { code: 'ENOSPC' })
  await r.close()
  t.deepEqual(
    fs.readdirSync(path.join(dir, 'groups')).filter((f) => f.includes('.tmp-')),
    [],
  )
})

test.serial(
  'a file-system failure during open is a coded error naming the step, file and errno',
  async (t) => {
    const dir = tmpDir(t)
    await fill(dir, 10)
    const ffs = new FaultFs(dir)
    setFileLayer(ffs.layer)
    t.teardown(() => setFileLayer(undefined))
    ffs.failNext('fsync', 'ENOSPC') // the first checkpoint after recovery
    const err = await t.throwsAsync(openLog(dir), { code: 'MI_ERR_LOG_OPEN_FAILED' })
    t.regex(err!.message, /ENOSPC/)
    t.is((err!.cause as NodeJS.ErrnoException).code, 'ENOSPC')
    t.false(readWriterLock(dir).live, 'the lock is released')
    const log = await openLog(dir)
    t.is(log.durableLsn, 10)
    await log.close()
  },
)

test('the lock of a SIGKILLed writer that is not reaped yet (zombie) is taken over at once', async (t) => {
  if (!fs.existsSync('/proc/self/stat')) return t.pass('no /proc: zombie detection is Linux-only')
  const dir = tmpDir(t)
  // sh starts the writer in the background, prints its pid, then becomes `sleep`, which never
  // reaps it: after SIGKILL the writer stays a zombie with writer.pid naming it.
  const sh = spawn(
    '/bin/sh',
    ['-c', `"$0" "$1" "$2" & exec sleep 60`, process.execPath, path.join(here, 'fixtures/_hold.ts'), dir],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  t.teardown(() => sh.kill('SIGKILL'))
  const pid = await new Promise<number>((resolve) => {
    let buf = ''
    sh.stdout.on('data', (d: Buffer) => {
      buf += d.toString()
      const m = /READY (\d+)/.exec(buf)
      if (m) resolve(Number(m[1]))
    })
  })
  t.true(readWriterLock(dir).live)
  process.kill(pid, 'SIGKILL')
  for (let i = 0; i < 200 && !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')); i++)
    await new Promise((r) => setTimeout(r, 10))
  t.regex(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'), /\) Z /, 'the dead writer is a zombie')
  t.false(readWriterLock(dir).live, 'a zombie holds nothing')
  const log = await openLog(dir, { lockWaitMs: 0 })
  t.is(readWriterLock(dir).pid, process.pid)
  await log.close()
})

test('a writer that is still dying is waited for (lockWaitMs), not refused', async (t) => {
  const dir = tmpDir(t)
  const child = spawn(process.execPath, [path.join(here, 'fixtures/_hold.ts'), dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d: Buffer) => /READY/.test(d.toString()) && resolve()),
  )
  await t.throwsAsync(openLog(dir, { lockWaitMs: 0 }), { code: 'MI_ERR_LOG_LOCKED' })
  setTimeout(() => child.kill('SIGKILL'), 300)
  const log = await openLog(dir, { lockWaitMs: 10_000 })
  t.is(readWriterLock(dir).pid, process.pid)
  await log.close()
})
