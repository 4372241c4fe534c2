/**
 * Memory a client controls is bounded globally (issue 11.1, 11.2): pre-auth frames are capped at a
 * HELLO's size, partly sent frames share a budget, and unsent output shares a budget.
 */
import {
  decodeNackOrError,
  ErrorCode,
  encodeData,
  encodeFrame,
  encodePing,
  FrameType,
  MAX_HELLO_PAYLOAD,
} from '@module-ingest/protocol'
import { MipSocket } from '@module-ingest/testing'
import test from 'ava'
import { startTestServer } from './fixtures/_server.ts'

const MiB = 1024 * 1024
const record = (body: string) => ({ stream: 'telemetry.mem', ts: 0, body })

/** The next frame's ERROR code, or 0 when nothing arrives within `ms` (connection left alone). */
async function errorOrNothing(sock: MipSocket, ms: number): Promise<number> {
  try {
    const f = await sock.next(ms)
    return f.type === FrameType.ERROR ? decodeNackOrError(f.payload).code : -1
  } catch (err) {
    return (err as Error).message.startsWith('no frame') ? 0 : -2
  }
}

test('before HELLO_OK, a header announcing more than a HELLO is FRAME_TOO_LARGE at once', async (t) => {
  const s = await startTestServer({ 'limits.handshakeTimeoutMs': 30_000 })
  t.teardown(() => s.stop())
  const sock = await MipSocket.open(s.port)
  const header = encodeFrame(FrameType.HELLO, 0n, Buffer.alloc(0)).subarray(0, 20)
  header.writeUInt32BE(MAX_HELLO_PAYLOAD + 1, 8)
  sock.write(header)
  t.is(await sock.expectError(10_000), ErrorCode.FRAME_TOO_LARGE)
  // After HELLO_OK the full max_frame applies again.
  const { sock: ok } = await MipSocket.session(s.port, { module: 'sensor-big', token: s.token })
  ok.write(encodeData(1n, record('x'.repeat(200_000))))
  t.is(await ok.ackFor(1n), 1n)
  ok.close()
})

test('partly sent frames share a global budget: the newest holders are shed with OVERLOADED', async (t) => {
  // 4 MiB budget → 2 MiB for partial frames → 1 MiB per parser worker (2 workers).
  const s = await startTestServer({
    'limits.memoryBudgetBytes': 4 * MiB,
    'limits.handshakeTimeoutMs': 30_000,
  })
  t.teardown(() => s.stop())
  const good = await MipSocket.session(s.port, { module: 'sensor-good', token: s.token })
  const attackers: MipSocket[] = []
  for (let i = 0; i < 12; i++) {
    const { sock } = await MipSocket.session(s.port, { module: `sensor-p${i}`, token: s.token })
    const frame = encodeData(1n, record('y'.repeat(900_000)))
    sock.write(frame.subarray(0, 300_000)) // never finished
    attackers.push(sock)
    // Sequential: "newest" is well defined.
    await new Promise((r) => setTimeout(r, 20))
  }
  const codes = await Promise.all(attackers.map((a) => errorOrNothing(a, 3000)))
  const shed = codes.filter((c) => c === ErrorCode.OVERLOADED).length
  t.true(shed >= 6, `shed ${shed} of 12 (codes ${codes.join(',')})`)
  t.deepEqual(
    codes.filter((c) => c !== ErrorCode.OVERLOADED && c !== 0),
    [],
    'nothing but OVERLOADED or silence',
  )
  // The oldest holder on each worker keeps its slot: shedding is newest first.
  t.is(codes[0], 0)
  // A well-behaved session is served throughout.
  good.sock.write(encodeData(1n, record('still here')))
  t.is(await good.sock.ackFor(1n), 1n)
  good.sock.write(encodePing(7n, Buffer.from('hi')))
  t.is((await good.sock.expect(FrameType.PONG)).seq, 7n)
  const stats = await s.server.stats()
  const counter = stats.metrics.counters.find((c) => c.name === 'mi_connections_shed_total')
  t.true((counter?.value ?? 0) >= shed)
  for (const a of attackers) a.close()
  good.sock.close()
})
