import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { connect } from '@module-ingest/client'
import { openLog } from '@module-ingest/log'
import { startServerProcess } from '@module-ingest/testing'
import test, { type ExecutionContext } from 'ava'

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
const plugin = fileURLToPath(new URL('./fixtures/_collect-plugin.ts', import.meta.url))
const run = promisify(execFile)

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mi-qw-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** 100 records over streams a.x / b.y, 4 modules; rts grows by 1 s per producer batch. */
async function writeLog(dir: string, n = 100): Promise<void> {
  const log = await openLog(join(dir, 'data'))
  const t0 = Date.parse('2026-01-01T00:00:00Z') * 1000
  for (let i = 0; i < n; i += 5) {
    const records = Array.from({ length: 5 }, (_, k) => ({
      stream: (i + k) % 2 === 0 ? 'a.x' : 'b.y',
      ts: t0 + i + k,
      body: Buffer.from(`r${i + k}`),
    }))
    log.append({
      module: `m${(i / 5) % 4}`,
      core: '',
      seq: BigInt(i / 5 + 1),
      rts: t0 + (i / 5) * 1_000_000,
      records,
    })
  }
  await log.sync()
  await log.close()
}

const lsnsIn = (file: string) =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => Number(l.split(' ')[0]))
    : []

async function qw(dir: string, ...args: string[]) {
  const { stdout } = await run(
    process.execPath,
    [cli, '--data-dir', join(dir, 'data'), '--use', plugin, '--json', ...args],
    {
      cwd: dir,
      timeout: 60_000,
    },
  )
  return JSON.parse(stdout.trim().split('\n').at(-1)!)
}

test('delivers every record of the log, commits its own group, and resumes from it', async (t) => {
  const dir = tempDir(t)
  await writeLog(dir)
  const out = join(dir, 'out.txt')
  const summary = await qw(dir, '--options', JSON.stringify({ out, emit: true }))
  t.deepEqual(
    lsnsIn(out),
    Array.from({ length: 100 }, (_, i) => i + 1),
  )
  t.is(summary.records, 100)
  t.is(summary.nextLsn, 101)
  t.is(summary.group, 'queue-worker._collect-plugin'.replace('._', '.'))
  t.true(summary.emitted > 0)
  t.true(readFileSync(summary.emitsFile, 'utf8').includes('"stream":"seen"'))
  // Same group again: nothing left to do.
  const again = await qw(dir, '--options', JSON.stringify({ out }))
  t.is(again.records, 0)
  t.is(lsnsIn(out).length, 100)
})

test('--from/--to (LSN and time) and --streams bound what the plugin sees', async (t) => {
  const dir = tempDir(t)
  await writeLog(dir)
  const out = join(dir, 'out.txt')
  await qw(
    dir,
    '--options',
    JSON.stringify({ out }),
    '--group',
    'g1',
    '--from',
    '11',
    '--to',
    '30',
    '--streams',
    'a.*',
  )
  t.deepEqual(
    lsnsIn(out),
    Array.from({ length: 20 }, (_, i) => i + 11).filter((l) => (l - 1) % 2 === 0),
  )
  const out2 = join(dir, 'out2.txt')
  // Producer batches 2..3 (LSN 11..20) were received at 00:00:02 and 00:00:03.
  await qw(
    dir,
    '--options',
    JSON.stringify({ out: out2 }),
    '--group',
    'g2',
    '--from',
    '2026-01-01T00:00:02Z',
    '--to',
    '2026-01-01T00:00:03Z',
  )
  t.deepEqual(
    lsnsIn(out2),
    Array.from({ length: 10 }, (_, i) => i + 11),
  )
})

test('--dry-run counts without delivering or committing', async (t) => {
  const dir = tempDir(t)
  await writeLog(dir)
  const out = join(dir, 'out.txt')
  const summary = await qw(dir, '--options', JSON.stringify({ out }), '--dry-run', '--streams', 'b.*')
  t.is(summary.records, 50)
  t.true(summary.dryRun)
  t.false(existsSync(out))
  const real = await qw(dir, '--options', JSON.stringify({ out }))
  t.is(real.records, 100, 'the dry run committed nothing')
})

test('--batch-bytes cuts smaller batches; --rate-limit is taken (the log is not growing: full speed)', async (t) => {
  const dir = tempDir(t)
  await writeLog(dir)
  const out = join(dir, 'out.txt')
  const summary = await qw(
    dir,
    '--options',
    JSON.stringify({ out }),
    '--batch-bytes',
    '200',
    '--rate-limit',
    '1000',
  )
  t.is(summary.records, 100)
  t.true(summary.batches >= 20, `${summary.batches} batches of ~200 bytes`)
  t.deepEqual(
    lsnsIn(out),
    Array.from({ length: 100 }, (_, i) => i + 1),
  )
  const err = await t.throwsAsync(qw(dir, '--rate-limit', '0'))
  t.is((err as { code?: number }).code, 2)
})

test('--help documents the flags; bad input exits 2 with a coded error', async (t) => {
  const { stdout } = await run(process.execPath, [cli, '--help'])
  for (const flag of [
    '--data-dir',
    '--use',
    '--options',
    '--group',
    '--from',
    '--to',
    '--streams',
    '--dry-run',
    '--follow',
    '--batch-bytes',
    '--rate-limit',
  ]) {
    t.true(stdout.includes(flag), flag)
  }
  const err = await t.throwsAsync(
    run(process.execPath, [cli, '--data-dir', '/nonexistent', '--use', plugin, '--from', 'yesterday-ish']),
  )
  t.is((err as { code?: number }).code, 2)
  t.regex((err as { stderr?: string }).stderr ?? '', /MI_ERR_QUEUE_WORKER_ARG_INVALID/)
})

test('runs beside a live server: reads only committed records, in its own group', async (t) => {
  const dir = tempDir(t)
  const dataDir = join(dir, 'server')
  const server = await startServerProcess({ dataDir, set: { subscribers: '[]' } })
  t.teardown(() => server.kill('SIGKILL'))
  const client = await connect({
    port: server.port,
    module: 'qw-live',
    auth: { token: await server.devToken() },
  })
  await Promise.all(Array.from({ length: 200 }, (_, i) => client.send('live.x', `l${i}`)))
  const out = join(dir, 'live.txt')
  // The server's data dir, as an operator would pass it; the server keeps writing meanwhile.
  const writing = Promise.all(Array.from({ length: 200 }, (_, i) => client.send('live.x', `m${i}`)))
  const summary = await qw(dir, '--data-dir', dataDir, '--options', JSON.stringify({ out }))
  await writing
  await client.close()
  t.true(summary.records >= 200, `at least the 200 acknowledged before it started (${summary.records})`)
  const seen = lsnsIn(out)
  t.deepEqual(
    seen,
    Array.from({ length: seen.length }, (_, i) => i + 1),
    'a gap-free prefix of the log',
  )
  server.kill('SIGTERM')
  t.is(await server.exited, 0)
})
