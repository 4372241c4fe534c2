/**
 * Limits and abuse: rate limits slow a module down without losing anything; brute force gets
 * RATE_LIMITED; garbage, idle and slow clients do not stop good ones from being served.
 */
import { ErrorCode, encodeData, encodeHello } from '@module-ingest/protocol'
import { MipSocket } from '@module-ingest/testing'
import test from 'ava'
import { startTestServer } from './fixtures/_server.ts'

const record = (body: string) => ({ stream: 'telemetry.abuse', ts: 0, body })

test('a module over its rate limit is slowed by backpressure, and every frame is still stored', async (t) => {
  const s = await startTestServer({ 'limits.moduleMsgsPerSec': 500 })
  t.teardown(() => s.stop())
  const { sock } = await MipSocket.session(s.port, { module: 'sensor-fast', token: s.token })
  const frames = Array.from({ length: 1500 }, (_, i) => encodeData(BigInt(i + 1), record(`r${i}`)))
  sock.write(Buffer.concat(frames))
  t.is(await sock.ackFor(1500n, 30_000), 1500n)
  const stats = await s.server.stats()
  const pauses = stats.metrics.counters.find((c) => c.name === 'mi_rate_limit_pauses_total')
  t.true((pauses?.value ?? 0) > 0, 'the socket was paused')
  sock.close()
})

test('brute force from one address gets RATE_LIMITED; a good client elsewhere is served meanwhile', async (t) => {
  const s = await startTestServer({ 'limits.failedHandshakesPerMinute': 20 })
  t.teardown(() => s.stop())
  const good = await MipSocket.session(s.port, { module: 'sensor-good', token: s.token })
  let limited = 0
  let seq = 0n
  for (let i = 0; i < 40 && limited === 0; i++) {
    const bad = await MipSocket.connect(s.port, '127.0.0.1', '127.0.0.2')
    const first = await bad.next()
    if (first.type === 0x7f) {
      limited++
      break
    }
    bad.write(encodeHello({ module: 'sensor-victim', method: 'token', token: `mi_guess${i}` }))
    t.is(await bad.expectError(), ErrorCode.AUTH_FAILED)
    bad.close()
    // The good client keeps being acknowledged throughout.
    seq++
    good.sock.write(encodeData(seq, record(`g${seq}`)))
    t.is(await good.sock.ackFor(seq), seq)
  }
  t.is(limited, 1, 'the 21st attempt within a minute is refused with RATE_LIMITED')
  const again = await MipSocket.connect(s.port, '127.0.0.1', '127.0.0.2')
  t.is(await again.expectError(), ErrorCode.RATE_LIMITED)
  good.sock.close()
})

test('garbage, idle and half-frame clients do not stop a good client', async (t) => {
  const s = await startTestServer({ 'limits.handshakeTimeoutMs': 2000 })
  t.teardown(() => s.stop())
  const bad: MipSocket[] = []
  for (let i = 0; i < 60; i++) {
    const sock = await MipSocket.open(s.port, '127.0.0.1', '127.0.0.3')
    if (i % 3 === 0) sock.write(Buffer.from('garbage garbage garbage'))
    else if (i % 3 === 1) sock.write(encodeData(1n, record('x')).subarray(0, 10)) // a header that never ends
    bad.push(sock) // the rest stay silent
  }
  const good = await MipSocket.session(s.port, { module: 'sensor-good', token: s.token })
  const frames = Array.from({ length: 2000 }, (_, i) => encodeData(BigInt(i + 1), record(`g${i}`)))
  good.sock.write(Buffer.concat(frames))
  t.is(await good.sock.ackFor(2000n), 2000n)
  // Every bad client is eventually told why and disconnected.
  const codes = await Promise.all(bad.map((b) => b.expectError(10_000).catch(() => -1)))
  t.true(
    codes.every(
      (c) => c === ErrorCode.BAD_MAGIC || c === ErrorCode.HANDSHAKE_TIMEOUT || c === ErrorCode.AUTH_REQUIRED,
    ),
    String(codes),
  )
  good.sock.close()
})

test('the connection limit answers TOO_MANY_CONNECTIONS instead of WELCOME', async (t) => {
  const s = await startTestServer({ 'limits.maxConnections': 3 })
  t.teardown(() => s.stop())
  const open = await Promise.all([1, 2, 3].map(() => MipSocket.open(s.port)))
  const fourth = await MipSocket.connect(s.port)
  t.is(await fourth.expectError(), ErrorCode.TOO_MANY_CONNECTIONS)
  for (const o of open) o.close()
})

test('idle sessions get IDLE_TIMEOUT after 3 × heartbeat', async (t) => {
  const s = await startTestServer({ 'limits.heartbeatMs': 200 })
  t.teardown(() => s.stop())
  const { sock } = await MipSocket.session(s.port, { module: 'sensor-idle', token: s.token })
  t.is(sock.welcome!.heartbeat_ms, 200)
  t.is(await sock.expectError(5000), ErrorCode.IDLE_TIMEOUT)
})
