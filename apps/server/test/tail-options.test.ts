// tail -n/--limit, --from-time, --json: in-process against a log written here.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openLog } from '@module-ingest/log'
import test from 'ava'
import { run } from '../src/program.ts'

const T0 = Date.parse('2026-03-01T00:00:00Z') * 1000

async function writeLog(dataDir: string, n: number): Promise<void> {
  const w = await openLog(join(dataDir, 'log'))
  for (let i = 1; i <= n; i++) {
    const stream = i % 2 ? 'odd' : 'even'
    // Receive time: one minute apart, so --from-time can pick a point in the middle.
    w.append({
      module: 'm',
      core: '',
      seq: BigInt(i),
      rts: T0 + i * 60_000_000,
      records: [{ stream, ts: 0, body: Buffer.from(`r${i}`) }],
    })
  }
  await w.sync()
  await w.close()
}

async function tail(args: string[]): Promise<{ code: number; lines: string[] }> {
  let out = ''
  const write = process.stdout.write
  process.stdout.write = ((chunk: string) => {
    out += chunk
    return true
  }) as typeof process.stdout.write
  try {
    const code = await run(['node', 'module-ingest', 'tail', ...args])
    return { code, lines: out.split('\n').filter(Boolean) }
  } finally {
    process.stdout.write = write
  }
}

const bodies = (lines: string[]) => lines.map((l) => (JSON.parse(l) as { body: string }).body)

test('-n / --limit, --from-time, --json', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mi-tail-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeLog(dir, 10)
  const d = ['-d', dir]

  t.deepEqual(bodies((await tail([...d, '-n', '3', '--json'])).lines), ['r8', 'r9', 'r10'], 'the last 3')
  t.deepEqual(bodies((await tail([...d, '--limit', '2', '-s', 'odd', '--json'])).lines), ['r7', 'r9'])
  t.deepEqual(
    bodies((await tail([...d, '--from', '4', '-n', '2', '--json'])).lines),
    ['r4', 'r5'],
    'first 2 from LSN 4',
  )
  const fromTime = new Date((T0 + 8 * 60_000_000) / 1000).toISOString()
  t.deepEqual(bodies((await tail([...d, '--from-time', fromTime, '--json'])).lines), ['r8', 'r9', 'r10'])
  const text = await tail([...d, '-n', '1'])
  t.regex(text.lines[0] ?? '', /^10\t.*\teven\tm\tr10$/)
  t.is((await tail([...d, '--from-time', '12'])).code, 2, 'an LSN is not a time')
  t.is((await tail([...d, '-n', '0'])).code, 2)
})
