// `send` speaks TLS and answers (non-zero, with the reason) instead of hanging when there is no
// session to be had: a closed port, a TLS listener spoken to in plain text.
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestPki, startServerProcess } from '@module-ingest/testing'
import test from 'ava'
import { runCli } from './_run.ts'

async function closedPort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1')
  await new Promise((r) => s.once('listening', r))
  const { port } = s.address() as { port: number }
  await new Promise((r) => s.close(r))
  return port
}

test('send to a closed port: exit 1 with ECONNREFUSED and a hint, within the connect timeout', async (t) => {
  const port = await closedPort()
  const r = await runCli(
    ['send', '-s', 'x', '--port', String(port), '--token', 't', '--connect-timeout', '800'],
    { stdin: 'a\n', timeoutMs: 20_000 },
  )
  t.is(r.code, 1, r.stderr)
  t.regex(r.stderr, /MI_ERR_CLIENT_CONNECT_TIMEOUT|no session with 127\.0\.0\.1/)
  t.regex(r.stderr, /ECONNREFUSED/)
})

test('send --tls --ca against a TLS server; plain send against it fails with a TLS hint', async (t) => {
  const cwd = await mkdtemp(join(tmpdir(), 'mi-send-tls-'))
  const pki = createTestPki()
  t.teardown(async () => {
    pki.remove()
    await rm(cwd, { recursive: true, force: true })
  })
  const cert = pki.issueServer()
  const dataDir = join(cwd, 'data')
  const server = await startServerProcess({
    dataDir,
    set: { 'tls.certFile': cert.certFile, 'tls.keyFile': cert.keyFile },
  })
  t.teardown(() => server.kill('SIGKILL'))
  const common = ['--data-dir', dataDir, '--port', String(server.port), '-s', 'tls.demo']

  const wrong = await runCli(['send', ...common, '--no-tls', '--connect-timeout', '1500'], {
    stdin: 'x\n',
    timeoutMs: 20_000,
  })
  t.is(wrong.code, 1, wrong.stderr)
  t.regex(wrong.stderr, /TLS listener/)

  const ok = await runCli(['send', ...common, '--tls', '--ca', pki.caFile, '--host', '127.0.0.1'], {
    stdin: '{"a":1}\n{"a":2}\n',
    timeoutMs: 20_000,
  })
  t.is(ok.code, 0, ok.stderr)
  t.regex(ok.stderr, /acked 2/)

  const badCa = await runCli(['send', ...common, '--tls', '--ca', join(cwd, 'missing.pem')], {
    stdin: 'x\n',
  })
  t.is(badCa.code, 2, badCa.stderr)
  t.regex(badCa.stderr, /--ca .*ENOENT/)
})
