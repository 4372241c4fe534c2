// `module-ingest check`: every problem listed, exit 1; a good configuration, exit 0.
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { run } from '../src/program.ts'

async function check(args: string[]): Promise<{ code: number; out: string }> {
  let out = ''
  const write = process.stdout.write
  process.stdout.write = ((s: string) => {
    out += s
    return true
  }) as typeof process.stdout.write
  try {
    process.exitCode = undefined
    const code = await run(['node', 'module-ingest', 'check', ...args])
    return { code, out }
  } finally {
    process.stdout.write = write
    process.exitCode = undefined
  }
}

test.serial('a broken configuration: every problem is listed, exit 1', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mi-check-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const busy = createServer().listen(0, '127.0.0.1')
  await once(busy, 'listening')
  t.teardown(() => busy.close())
  const port = (busy.address() as { port: number }).port
  const file = join(dir, 'c.yaml')
  await writeFile(
    file,
    `dataDir: ${join(dir, 'data')}
listen: 127.0.0.1:${port}
telemetry: { metrics: false }
tls: { certFile: ${join(dir, 'missing.crt')}, keyFile: ${join(dir, 'missing.key')} }
subscribers:
  - { name: disk, use: disk, options: { dir: 5 } }
  - { name: ghost, use: "@acme/not-installed" }
`,
  )
  const r = await check(['-c', file])
  t.is(r.code, 1, r.out)
  t.regex(r.out, /FAIL\s+tls\s+.*missing\.crt/)
  t.regex(r.out, /FAIL\s+subscriber disk\s+.*dir/)
  t.regex(r.out, /FAIL\s+subscriber ghost\s+.*@acme\/not-installed/)
  t.regex(r.out, new RegExp(`FAIL\\s+listen\\s+127\\.0\\.0\\.1:${port} cannot be bound: EADDRINUSE`))
  t.regex(r.out, /4 problem\(s\)\n$/)
})

test.serial('schema errors are listed one per line; a good configuration exits 0', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mi-check-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const bad = join(dir, 'bad.yaml')
  await writeFile(bad, 'listen: nowhere\nlimits: { maxConnections: -1 }\n')
  const r = await check(['-c', bad])
  t.is(r.code, 1)
  t.regex(r.out, /FAIL\s+config\s+listen/)
  t.regex(r.out, /FAIL\s+config\s+limits\.maxConnections/)

  const ok = await check([
    '-d',
    join(dir, 'data'),
    '--listen',
    '127.0.0.1:0',
    '--set',
    'telemetry.metrics=false',
    '--json',
  ])
  const json = JSON.parse(ok.out) as { ok: boolean; results: Array<{ check: string; ok: boolean }> }
  t.true(json.ok, ok.out)
  t.is(ok.code, 0)
  t.true(
    json.results.some((x) => x.check === 'subscriber disk' && x.ok),
    'the default disk subscriber loads',
  )
})
