/**
 * Fair shares of the inbound ring (issue 11, src/inbound-share.ts), on the real Connections with
 * real sockets and a real ring; this test plays the parser. A flooder writes 4 MiB at once; then a
 * well-behaved client writes one small frame. Asserted (facts of order, not time): the flooder's
 * bytes that reach the parser ahead of the good client's frame are at most one share (before the
 * fix: the whole ring plus a backlogged socket read, about 128 KiB here), and no ring record of a
 * connection exceeds its share. And while the flooder waits for its share it is counted
 * (Connections.waitingForShare, the gauge mi_connections_waiting_share).
 */
import { once } from 'node:events'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { createDoorbell, createRing, RingConsumer } from '@module-ingest/ring'
import test from 'ava'
import { Connections } from '../src/connections.ts'
import { shareBytes } from '../src/inbound-share.ts'
import { In } from '../src/messages.ts'

const RING = 64 * 1024

test('a flooding connection gets one share of the inbound ring ahead of a good client, not the ring', async (t) => {
  const inbound = createRing(RING)
  const connections = new Connections(
    [{ inbound, outbound: createRing(RING), doorbell: createDoorbell() }],
    createDoorbell(),
    { maxConnections: 10, maxConnectionsPerIp: 10, ipBytesPerSec: 0 },
    { admit: () => 0 },
  )
  const server = net.createServer((socket) => connections.accept(socket))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  const sockets: net.Socket[] = []
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    connections.stopReading()
    await connections.closeAll(100)
    server.close()
  })
  const consumer = new RingConsumer(inbound)
  const opened: number[] = [] // connection ids in accept order: [flooder, good]
  const dataBytes = new Map<number, number>()
  let largest = 0
  let goodSeenAfter = -1 // the flooder's DATA bytes read before the good client's first DATA
  const visit = (data: Uint8Array, kind: number, tag: number) => {
    if (kind === In.OPEN) opened.push(tag)
    if (kind !== In.DATA) return
    largest = Math.max(largest, data.byteLength)
    if (tag === opened[1] && goodSeenAfter < 0) goodSeenAfter = dataBytes.get(opened[0]!) ?? 0
    dataBytes.set(tag, (dataBytes.get(tag) ?? 0) + data.byteLength)
  }
  const connect = async () => {
    const s = net.connect(port, '127.0.0.1')
    s.on('error', () => {})
    sockets.push(s)
    await once(s, 'connect')
    return s
  }

  const flooder = await connect()
  flooder.write(Buffer.alloc(4 * 1024 * 1024, 0x30))
  // Read (without releasing) until the flooder's first bytes are in the ring: it is filling it.
  while (!dataBytes.get(opened[0] ?? -1)) {
    consumer.read(visit)
    await sleep(5)
  }
  const good = await connect()
  good.write(Buffer.alloc(100, 0x10))
  await sleep(300) // let the main thread read both sockets (not a timing assertion: it only settles)
  // The flooder's 4 MiB cannot all be in the ring: it waits for its share, and the gauge
  // mi_connections_waiting_share counts it.
  t.is(connections.waitingForShare(), 1, 'the flooder waits for its share')

  // Now play a slow parser: one record at a time, releasing each, until the good client's frame.
  for (let i = 0; goodSeenAfter < 0 && i < 100_000; i++) {
    if (consumer.read(visit, 1) === 0) await sleep(1)
    consumer.release()
  }
  const share = shareBytes(RING, 2)
  t.true(goodSeenAfter >= 0, 'the good client frame reached the ring')
  t.true(goodSeenAfter <= share, `flooder bytes ahead of the good client: ${goodSeenAfter} (share ${share})`)
  t.true(largest <= share, `largest ring record ${largest} (share ${share})`)
})
