/**
 * Clients that never read their ACKs/PONGs (issue 11.2): unsent output is bounded globally, and a
 * connection that stays over its share is closed, while a well-behaved client is served.
 */
import { encodeData, encodePing, FrameType } from '@module-ingest/protocol'
import { MipSocket } from '@module-ingest/testing'
import test from 'ava'
import { startTestServer } from './fixtures/_server.ts'

const MiB = 1024 * 1024

test('deaf clients flooding PINGs are closed once over their output share; a good client goes on', async (t) => {
  // 2 MiB budget → 1 MiB of unsent output across every connection (share: 1 MiB / 5 sockets).
  const s = await startTestServer({
    'limits.memoryBudgetBytes': 2 * MiB,
    'limits.handshakeTimeoutMs': 30_000,
  })
  t.teardown(() => s.stop())
  const good = await MipSocket.session(s.port, { module: 'sensor-good', token: s.token })
  const deaf: MipSocket[] = []
  const pings = Buffer.concat(
    Array.from({ length: 1000 }, (_, i) => encodePing(BigInt(i), Buffer.alloc(64, i))),
  )
  for (let i = 0; i < 4; i++) {
    const { sock } = await MipSocket.session(s.port, { module: `sensor-deaf${i}`, token: s.token })
    sock.socket.pause() // never reads what the server sends
    // ~7 MB of PINGs → as many PONG bytes: more than loopback's kernel buffers absorb (~4 MB).
    for (let k = 0; k < 80; k++) sock.write(pings)
    deaf.push(sock)
  }
  const deadline = Date.now() + 90_000
  let stats = await s.server.stats()
  while (stats.connections.shedOutput < deaf.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200))
    stats = await s.server.stats()
  }
  t.log(JSON.stringify(stats.connections))
  t.is(stats.connections.shedOutput, deaf.length, 'every deaf client was closed')
  // The well-behaved session was never over its share.
  good.sock.write(encodeData(1n, { stream: 'telemetry.out', ts: 0, body: 'ok' }))
  t.is(await good.sock.ackFor(1n, 30_000), 1n)
  good.sock.write(encodePing(9n, Buffer.from('x')))
  t.is((await good.sock.expect(FrameType.PONG)).seq, 9n)
  for (const d of deaf) d.socket.destroy()
  good.sock.close()
})
