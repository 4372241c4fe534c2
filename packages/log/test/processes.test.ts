import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { openLog, openReader } from '../src/index.ts'
import { nowUs, tmpDir } from './helpers.ts'

const here = path.dirname(fileURLToPath(import.meta.url))

function lines(child: ReturnType<typeof spawn>, onLine: (l: string) => void): void {
  let buf = ''
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString()
    let nl = buf.indexOf('\n')
    while (nl >= 0) {
      onLine(buf.slice(0, nl))
      buf = buf.slice(nl + 1)
      nl = buf.indexOf('\n')
    }
  })
}

test('a reader in another process tails the writer: in order, only durable records', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir, { segmentSizeBytes: 32 * 1024 })
  const total = 3000
  const child = spawn(process.execPath, [path.join(here, 'fixtures/_tail.ts'), dir, String(total)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const got: number[] = []
  let ready: () => void
  const isReady = new Promise<void>((r) => {
    ready = r
  })
  lines(child, (l) => {
    if (l === 'READY') return ready()
    const [, lsn, seq, stream, text] = l.split(' ')
    const n = Number(lsn)
    // The line left the child after it read the record, so the record was durable by then.
    if (n > log.durableLsn) t.fail(`reader saw lsn ${n} before it was durable (${log.durableLsn})`)
    if (text !== `b${seq}` || stream !== 'tail') t.fail(`bad record ${l}`)
    got.push(n)
  })
  const exited = new Promise<number | null>((r) => child.on('exit', r))
  await isReady
  for (let i = 1; i <= total; i++) {
    log.append({
      module: 'm',
      core: '',
      seq: BigInt(i),
      rts: nowUs(),
      records: [{ stream: 'tail', ts: nowUs(), body: Buffer.from(`b${i}`) }],
    })
    if (i % 37 === 0) await new Promise((r) => setTimeout(r, 1))
  }
  t.is(await exited, 0)
  t.deepEqual(
    got,
    Array.from({ length: total }, (_, i) => i + 1),
  )
  await log.close()
})

test('same-process reader wakes through the durableSignal SharedArrayBuffer', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir)
  const reader = await openReader(dir, { durableSignal: log.durableSignal, pollIntervalMs: 10_000 })
  const c = reader.cursor()
  t.deepEqual(await c.read(), [])
  const waiting = c.waitForData({ timeoutMs: 5000 })
  log.append({
    module: 'm',
    core: '',
    seq: 1n,
    rts: nowUs(),
    records: [{ stream: 's', ts: 1, body: new Uint8Array(1) }],
  })
  t.true(await waiting)
  t.is((await c.read()).length, 1)
  t.false(await c.waitForData({ timeoutMs: 20 }))
  const ac = new AbortController()
  const aborted = c.waitForData({ signal: ac.signal })
  ac.abort()
  await t.throwsAsync(aborted)
  await reader.close()
  await log.close()
})

test('consumer-group offsets survive SIGKILL of the committing process', async (t) => {
  const dir = tmpDir(t)
  fs.mkdirSync(dir, { recursive: true })
  for (let round = 0; round < 3; round++) {
    const child = spawn(process.execPath, [path.join(here, 'fixtures/_groups.ts'), dir, 'g1'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let acked = 0
    let n = 0
    lines(child, (l) => {
      acked = Math.max(acked, Number(l.slice(2)))
      if (++n === 20 + round * 13) child.kill('SIGKILL')
    })
    await new Promise((r) => child.on('exit', r))
    const reader = await openReader(dir)
    const now = reader.groups.get('g1')
    t.true(now >= acked, `group offset ${now} covers acked ${acked}`)
    t.deepEqual(
      reader.groups.list().map((g) => g.name),
      ['g1'],
    )
    await reader.close()
  }
})

test('groups: get/commit/list with lag', async (t) => {
  const dir = tmpDir(t)
  const log = await openLog(dir)
  for (let i = 1; i <= 10; i++) {
    log.append({
      module: 'm',
      core: '',
      seq: BigInt(i),
      rts: nowUs(),
      records: [{ stream: 's', ts: 1, body: new Uint8Array(1) }],
    })
  }
  await log.sync()
  const reader = await openReader(dir)
  t.is(reader.groups.get('fresh'), 1)
  await Promise.all([
    reader.groups.commit('a', 4),
    reader.groups.commit('a', 6),
    reader.groups.commit('b', 11),
  ])
  t.deepEqual(reader.groups.list(), [
    { name: 'a', nextLsn: 6, lag: 5 },
    { name: 'b', nextLsn: 11, lag: 0 },
  ])
  t.throws(() => reader.groups.get('../x'), { code: 'MI_ERR_LOG_GROUP_INVALID' })
  await reader.close()
  await log.close()
})
