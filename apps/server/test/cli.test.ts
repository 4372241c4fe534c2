import { execFile } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Metrics, startAdminServer } from '@module-ingest/telemetry'
import test from 'ava'
import { runInProcess } from './_run.ts'

const cli = new URL('../src/cli.ts', import.meta.url).pathname

interface Result {
  code: number
  stdout: string
  stderr: string
}

// process.execPath is the real Node 24 binary (node_modules/.bin/node is a shell wrapper).
function run(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 120_000 }, // generous: CI can be loaded
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

const tmp = () => mkdtempSync(join(tmpdir(), 'mi-cli-'))

const commands = [
  ['serve'],
  ['token'],
  ['token', 'create'],
  ['token', 'list'],
  ['token', 'revoke'],
  ['token', 'rotate'],
  ['stats'],
  ['logs'],
  ['send'],
  ['tail'],
  ['archive'],
  ['archive', 'read'],
  ['check'],
  ['completion'],
]

test('--help for the program and every command', async (t) => {
  const top = await run(['--help'])
  t.is(top.code, 0)
  for (const name of ['serve', 'token', 'stats', 'logs', 'send', 'tail'])
    t.regex(top.stdout, new RegExp(`\\n  ${name}\\b`))
  // In-process, one after another: 13 Node start-ups at once time out on a loaded 2-core box.
  const results: Result[] = []
  for (const c of commands) results.push(await runInProcess([...c, '--help']))
  results.forEach((r, i) => {
    t.is(r.code, 0, commands[i]?.join(' '))
    t.true(r.stdout.startsWith(`Usage: module-ingest ${commands[i]?.join(' ')}`), r.stdout)
  })
})

test('config errors exit 2 with the config error line', async (t) => {
  const r = await run(['serve'], { MI_LIMITS__MAX_CONNECTIONS: 'abc' })
  t.is(r.code, 2)
  t.is(
    r.stderr,
    'error: MI_ERR_CONFIG_INVALID: config error: limits.maxConnections (from MI_LIMITS__MAX_CONNECTIONS): expected a positive integer, got "abc"\n',
  )
  const f = await run(['token', 'list', '--config', '/nonexistent/mi.yaml'])
  t.is(f.code, 2)
  t.regex(f.stderr, /cannot read config file \/nonexistent\/mi\.yaml: no such file/)
  const s = await run(['serve', '--listen', 'nohost'])
  t.is(s.code, 2)
  t.regex(
    s.stderr,
    /^error: MI_ERR_CONFIG_INVALID: config error: listen \(from --listen\): expected "host:port"/,
  )
  const set = await run(['serve', '--set', 'limits.maxConections=5'])
  t.is(set.code, 2)
  t.regex(set.stderr, /limits\.maxConections \(from --set limits\.maxConections\): unknown key, did you mean/)
  const u = await run(['bogus'])
  t.is(u.code, 2)
  t.regex(u.stderr, /unknown command 'bogus'/)
})

test('token create | list | rotate | revoke round trip', async (t) => {
  const dir = tmp()
  const created = await run([
    'token',
    'create',
    '--data-dir',
    dir,
    '-m',
    'sensor-1',
    '-s',
    'write:telemetry.*',
    '--json',
  ])
  t.is(created.code, 0, created.stderr)
  const c = JSON.parse(created.stdout)
  t.like(c, { module: 'sensor-1', kind: 'token' })
  t.regex(c.secret, /^mi_/)

  const hmac = await run([
    'token',
    'create',
    '--data-dir',
    dir,
    '-m',
    'sensor-2',
    '--kind',
    'hmac',
    '--id',
    'h1',
  ])
  t.is(hmac.code, 0, hmac.stderr)
  t.regex(hmac.stdout, /created h1 for module sensor-2 \(hmac\)\nhmac key: [0-9a-f]{64}\n/)

  const list = await run(['token', 'list', '--data-dir', dir, '--json'])
  t.is(list.code, 0)
  const entries = JSON.parse(list.stdout)
  t.deepEqual(
    entries.map((e: { id: string }) => e.id),
    [c.id, 'h1'],
  )
  t.false(list.stdout.includes(c.secret), 'list never shows secrets')
  const table = await run(['token', 'list', '--data-dir', dir])
  t.regex(table.stdout, /^ID\s+MODULE\s+KINDS\s+SCOPES/)
  t.regex(table.stdout, /sensor-1\s+token\s+write:telemetry\.\*/)

  const rotated = await run(['token', 'rotate', c.id, '--data-dir', dir, '--json'])
  t.is(rotated.code, 0, rotated.stderr)
  const r = JSON.parse(rotated.stdout)
  t.regex(r.token, /^mi_/)
  t.not(r.token, c.secret)

  const revoked = await run(['token', 'revoke', 'sensor-1', '--data-dir', dir])
  t.is(revoked.code, 0, revoked.stderr)
  t.regex(revoked.stdout, /revoked .* \(module sensor-1\)/)
  const after = JSON.parse((await run(['token', 'list', '--data-dir', dir, '--json'])).stdout)
  t.deepEqual(
    after.map((e: { id: string }) => e.id),
    ['h1'],
  )
  const missing = await run(['token', 'revoke', 'nobody', '--data-dir', dir])
  t.not(missing.code, 0)
  t.regex(missing.stderr, /^error: MI_ERR_AUTH_CREDENTIAL_NOT_FOUND: /)
})

test('stats and logs talk to the admin socket', async (t) => {
  const dir = tmp()
  const metrics = new Metrics()
  metrics.counter('mi_frames_received_total', 'Frames').inc(12)
  metrics.histogram('mi_ack_latency_us', 'ACK latency', { unit: 'us' }).record(300)
  const lines = [
    JSON.stringify({ level: 30, time: 0, msg: 'first' }),
    JSON.stringify({ level: 50, time: 0, msg: 'second', event: 'X' }),
  ]
  const admin = await startAdminServer(join(dir, 'admin.sock'), {
    stats: () => ({ metrics: metrics.summary(), connections: { connections: 1 }, logAvailable: true }),
    logs: (args) => lines.slice(-(args.n as number)),
  })
  t.teardown(() => admin.close())

  const table = await run(['stats', '--data-dir', dir])
  t.is(table.code, 0, table.stderr)
  t.regex(table.stdout, /mi_frames_received_total\s+12/)
  t.regex(table.stdout, /mi_ack_latency_us\s+1\s+300/)
  t.regex(table.stdout, /connections: \{"connections":1\}/)
  const json = await run(['stats', '--data-dir', dir, '--json'])
  t.is(JSON.parse(json.stdout).metrics.counters[0].value, 12)

  const logs = await run(['logs', '-n', '1', '--data-dir', dir])
  t.is(logs.code, 0, logs.stderr)
  t.regex(logs.stdout, /^\S+ ERROR second event=X\n$/)
  const raw = await run(['logs', '--json', '--data-dir', dir])
  t.is(raw.stdout, `${lines.join('\n')}\n`)
})

test('stats without a server: a clear error, exit 1', async (t) => {
  const r = await run(['stats', '--data-dir', tmp()])
  t.is(r.code, 1)
  t.regex(
    r.stderr,
    /^error: MI_ERR_TELEMETRY_ADMIN_UNREACHABLE: cannot reach the admin socket .*admin\.sock \(ENOENT\): is the server running\?/,
  )
})

test('send without a token or dev token is a usage error', async (t) => {
  const r = await run(['send', '--stream', 's', '--data-dir', tmp()])
  t.is(r.code, 2)
  t.regex(r.stderr, /no --token given and no dev token at .*dev-token/)
})
