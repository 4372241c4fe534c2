/**
 * The server's internal module namespace (`mi:`) cannot be claimed by any credential, not even the
 * dev wildcard `*` (issue 11.11).
 */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createToken } from '@module-ingest/auth'
import { ErrorCode } from '@module-ingest/protocol'
import { MipSocket } from '@module-ingest/testing'
import test from 'ava'
import { startTestServer } from './fixtures/_server.ts'

test('a `*` credential admits any module but mi:subscribers and every other mi: name', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mi-reserved-'))
  const { secret } = await createToken(join(dir, 'credentials.yaml'), {
    module: '*',
    scopes: ['write:*'],
    kind: 'token',
  })
  const s = await startTestServer({}, dir)
  t.teardown(() => s.stop())
  const ok = await MipSocket.session(s.port, { module: 'anything', token: secret })
  t.is(ok.hwm, 0n)
  ok.sock.close()
  for (const module of ['mi:subscribers', 'mi:other']) {
    const sock = await MipSocket.open(s.port)
    const err = await sock.hello({ module, token: secret }).catch((e: { code: number }) => e)
    t.is((err as { code: number }).code, ErrorCode.AUTH_FAILED, module)
  }
})
