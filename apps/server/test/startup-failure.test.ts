// A server that cannot start exits non-zero with its reason and never accepts a connection
// (issue 12 item 1, issue 11 item 8). One real `module-ingest serve` child per cause.
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createToken } from '@module-ingest/auth'
import { createTestPki, decide, freePort } from '@module-ingest/testing'
import test from 'ava'

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))

// A real, full tmpfs plays the disk (mounting needs root, which CI has).
const fullDisk = await mkdtemp(join(tmpdir(), 'mi-startfail-full-'))
let noMount = ''
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', fullDisk])
} catch (err) {
  noMount = `cannot mount a tmpfs (needs root): ${(err as Error).message.split('\n')[0]}`
}
test.after.always(async () => {
  if (!noMount) execFileSync('umount', ['-l', fullDisk])
  await rm(fullDisk, { recursive: true, force: true })
})

interface Outcome {
  code: number | string
  stderr: string
  /** Connections the MIP/1 port accepted while the process lived. */
  accepted: number
  elapsedMs: number
}

/** Hold a port open (so the server's bind fails); resolves to its number and a closer. */
async function holdPort(): Promise<{ port: number; close: () => void }> {
  const server = net.createServer((s) => s.destroy())
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() }
}

/**
 * Run `serve` until it exits (generous cap: the machine may be loaded; the 5 s goal is measured in
 * t.log, never asserted). Meanwhile try to connect to its MIP/1 port every 50 ms.
 */
async function serve(
  t: { teardown(fn: () => unknown): void },
  args: { dataDir?: string; port?: number; set?: Record<string, string> },
): Promise<Outcome> {
  const dataDir = args.dataDir ?? (await mkdtemp(join(tmpdir(), 'mi-startfail-')))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const port = args.port ?? (await freePort())
  const argv = [CLI, 'serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir]
  for (const [k, v] of Object.entries({ 'telemetry.metrics': 'false', ...args.set }))
    argv.push('--set', `${k}=${v}`)
  const started = performance.now()
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  )
  const cap = setTimeout(() => child.kill('SIGKILL'), 120_000)
  let accepted = 0
  let alive = true
  const probing = (async () => {
    while (alive && args.port === undefined) {
      await new Promise<void>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port }, () => {
          accepted++
          s.destroy()
          resolve()
        })
        s.once('error', () => resolve())
      })
      await new Promise((r) => setTimeout(r, 50))
    }
  })()
  const code = await exited
  alive = false
  clearTimeout(cap)
  await probing
  return { code, stderr, accepted, elapsedMs: Math.round(performance.now() - started) }
}

function check(
  t: import('ava').ExecutionContext,
  out: Outcome,
  expect: { code: string; says: RegExp },
  probed = true,
): void {
  t.log(`exited ${out.code} after ${out.elapsedMs} ms (goal: < 5000 ms on an idle machine)`)
  t.is(out.code, 1, out.stderr)
  t.true(out.stderr.includes(expect.code), out.stderr)
  t.regex(out.stderr, expect.says)
  t.notRegex(out.stderr, /unsettled top-level await/)
  if (probed) t.is(out.accepted, 0, 'the MIP/1 port never accepted a connection')
}

test('MIP/1 port in use', async (t) => {
  const held = await holdPort()
  t.teardown(held.close)
  const out = await serve(t, { port: held.port })
  check(t, out, { code: 'MI_ERR_ENGINE_LISTEN_FAILED', says: /EADDRINUSE/ }, false)
})

test('metrics port in use', async (t) => {
  const held = await holdPort()
  t.teardown(held.close)
  const out = await serve(t, { set: { 'telemetry.metrics.listen': `127.0.0.1:${held.port}` } })
  check(t, out, { code: 'MI_ERR_SERVER_START_FAILED', says: /HTTP listener.*EADDRINUSE/ })
})

test('reads port in use (a kv subscriber opens the read APIs listener)', async (t) => {
  const held = await holdPort()
  t.teardown(held.close)
  const dir = await mkdtemp(join(tmpdir(), 'mi-startfail-kv-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const kv = [{ name: 'kv', use: 'kv', streams: ['kv.*'], options: { path: join(dir, 'kv.sqlite') } }]
  const out = await serve(t, {
    set: { subscribers: JSON.stringify(kv), 'telemetry.reads.listen': `127.0.0.1:${held.port}` },
  })
  check(t, out, { code: 'MI_ERR_SERVER_START_FAILED', says: /reads listener.*EADDRINUSE/ })
})

test('missing TLS file', async (t) => {
  const out = await serve(t, {
    set: { 'tls.certFile': '/nonexistent/cert.pem', 'tls.keyFile': '/nonexistent/key.pem' },
  })
  check(t, out, { code: 'MI_ERR_AUTH_TLS_INVALID', says: /nonexistent\/cert\.pem/ })
})

test('TLS certificate and key that do not match', async (t) => {
  const pki = createTestPki()
  t.teardown(() => pki.remove())
  const a = pki.issueServer('a')
  const b = pki.issueServer('b')
  const out = await serve(t, { set: { 'tls.certFile': a.certFile, 'tls.keyFile': b.keyFile } })
  check(t, out, { code: 'MI_ERR_AUTH_TLS_INVALID', says: /a\.crt/ })
})

test('unknown plugin', async (t) => {
  const out = await serve(t, {
    set: { subscribers: JSON.stringify([{ name: 'x', use: 'no-such-plugin-pkg' }]) },
  })
  check(t, out, { code: 'MI_ERR_PLUGIN_NOT_FOUND', says: /no-such-plugin-pkg/ })
})

test('bad plugin options', async (t) => {
  const subscribers = [{ name: 'arch', use: 'disk', options: { bogusOption: 1 } }]
  const out = await serve(t, { set: { subscribers: JSON.stringify(subscribers) } })
  check(t, out, { code: 'MI_ERR_PLUGIN_CONFIG_INVALID', says: /bogusOption/ })
})

test('the log is held by a live process: the writer refuses, the reason and recover-dump are named', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mi-startfail-'))
  mkdirSync(join(dataDir, 'log'))
  writeFileSync(join(dataDir, 'log', 'writer.pid'), `${process.pid}\n`) // this test runner: alive
  const out = await serve(t, { dataDir })
  check(t, out, { code: 'MI_ERR_ENGINE_LOG_OPEN', says: /MI_ERR_LOG_LOCKED.*recover-dump verify --log-dir/s })
})

test('the log directory cannot be created', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mi-startfail-'))
  writeFileSync(join(dataDir, 'log'), 'a file where the log directory should be')
  const out = await serve(t, { dataDir })
  check(t, out, { code: 'MI_ERR_ENGINE_LOG_OPEN', says: /recover-dump/ })
})

test('the log file cannot be opened', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mi-startfail-'))
  writeFileSync(join(dataDir, 'not-a-dir'), '')
  const out = await serve(t, {
    dataDir,
    set: { 'telemetry.logFile': join(dataDir, 'not-a-dir', 'server.log') },
  })
  check(t, out, { code: 'MI_ERR_SERVER_START_FAILED', says: /log file.*(ENOTDIR|EEXIST)/ })
})

decide('tmpfs mount', noMount).gate(test)(
  'a full disk: the log cannot be opened, ENOSPC is named',
  async (t) => {
    const dataDir = join(fullDisk, 'data')
    mkdirSync(dataDir)
    // Credentials first, so that only the log needs space.
    await createToken(join(dataDir, 'credentials.yaml'), {
      module: 'sensor-*',
      scopes: ['write:*'],
      kind: 'token',
    })
    try {
      writeFileSync(join(fullDisk, 'fill'), Buffer.alloc(2 << 20))
    } catch {
      // ENOSPC: the disk is full, as wanted
    }
    const out = await serve(t, { dataDir })
    check(t, out, { code: 'MI_ERR_ENGINE_LOG_OPEN', says: /ENOSPC.*recover-dump/s })
  },
)
