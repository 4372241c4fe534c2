// Issue 11 item 14: ingested data must not be readable by other local users. Every file the log
// creates is 0600 and every directory 0700 by default (options fileMode / dirMode), including an
// existing directory that was 0755, consumer-group files written by readers and the lock.
import fs from 'node:fs'
import path from 'node:path'
import test from 'ava'
import { openLog, openReader } from '../src/index.ts'
import { body, nowUs, tmpDir } from './helpers.ts'

/** Every entry under `root` with its permission bits (relative path → mode). */
function modes(root: string): Map<string, number> {
  const out = new Map<string, number>([['.', fs.statSync(root).mode & 0o777]])
  for (const e of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
    const p = path.join(e.parentPath, e.name)
    out.set(path.relative(root, p), fs.statSync(p).mode & 0o777)
  }
  return out
}

async function exercise(
  dir: string,
  opts: { fileMode?: number; dirMode?: number },
): Promise<Map<string, number>> {
  const log = await openLog(dir, { segmentSizeBytes: 8 * 1024, checkpointIntervalBytes: 4096, ...opts })
  const rts = nowUs()
  for (let i = 1; i <= 60; i++) {
    log.append({
      module: `m${i % 3}`,
      core: '',
      seq: BigInt(i),
      rts,
      records: [{ stream: 's', ts: rts, body: body(400, i) }],
    })
    if (i % 10 === 0) await log.sync()
  }
  await log.sync()
  const reader = await openReader(dir)
  await reader.groups.commit('g', 5)
  const seen = modes(dir) // writer.pid and the live files while the writer runs
  await reader.close()
  await log.close()
  for (const [p, m] of modes(dir)) seen.set(p, m)
  return seen
}

function check(
  t: import('ava').ExecutionContext,
  seen: Map<string, number>,
  file: number,
  dir: number,
): void {
  const names = [...seen.keys()]
  for (const want of [
    '00000000000000000001.seg',
    '00000000000000000001.idx',
    'catalog',
    'checkpoint.0',
    'checkpoint.1',
    'hwm.1',
    'durable',
    'writer.pid',
    'groups',
    'groups/g',
  ])
    t.true(names.includes(want), `${want} exists`)
  t.true(names.filter((n) => n.endsWith('.seg')).length > 2, 'several segments (rolls)')
  for (const [p, m] of seen) {
    const isDir = p === '.' || p === 'groups'
    t.is(m.toString(8), (isDir ? dir : file).toString(8), `${p} mode`)
  }
}

test('log files are 0600 and directories 0700 by default, an existing 0755 directory included', async (t) => {
  const dir = tmpDir(t)
  fs.chmodSync(dir, 0o755)
  check(t, await exercise(dir, {}), 0o600, 0o700)
})

test('file and directory modes are configurable (fileMode, dirMode)', async (t) => {
  const dir = tmpDir(t)
  check(t, await exercise(dir, { fileMode: 0o640, dirMode: 0o750 }), 0o640, 0o750)
})
