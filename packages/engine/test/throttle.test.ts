/**
 * The failed-handshake throttle is checked at each HELLO, not only at accept (issue 11.12):
 * connections opened before the address went over its limit do not each get a guess.
 */
import { decodeNackOrError, ErrorCode, encodeHello, FrameType } from '@module-ingest/protocol'
import { MipSocket } from '@module-ingest/testing'
import test from 'ava'
import { startTestServer } from './fixtures/_server.ts'

test('60 pre-opened connections, 60 bad HELLOs: at most the limit per worker are verified', async (t) => {
  const s = await startTestServer({
    'limits.failedHandshakesPerMinute': 20,
    'limits.handshakeTimeoutMs': 60_000,
  })
  t.teardown(() => s.stop())
  const socks: MipSocket[] = []
  for (let i = 0; i < 60; i++) socks.push(await MipSocket.open(s.port, '127.0.0.1', '127.0.0.4'))
  for (const [i, sock] of socks.entries()) {
    sock.write(encodeHello({ module: 'sensor-victim', method: 'token', token: `mi_guess${i}` }))
  }
  const codes = await Promise.all(
    socks.map(async (sock) => {
      const f = await sock.next(30_000)
      return f.type === FrameType.ERROR ? decodeNackOrError(f.payload).code : -1
    }),
  )
  const failed = codes.filter((c) => c === ErrorCode.AUTH_FAILED).length
  const limited = codes.filter((c) => c === ErrorCode.RATE_LIMITED).length
  t.is(failed + limited, 60, `codes: ${codes.join(',')}`)
  // 2 parser workers, each enforcing the limit locally until the main thread's THROTTLE arrives.
  t.true(failed <= 40, `${failed} guesses were verified`)
  t.true(limited >= 20)
  // The good secret from that address is refused too while throttled (no oracle).
  const again = await MipSocket.connect(s.port, '127.0.0.1', '127.0.0.4')
  t.is(await again.expectError(30_000), ErrorCode.RATE_LIMITED)
  for (const sock of socks) sock.close()
})
