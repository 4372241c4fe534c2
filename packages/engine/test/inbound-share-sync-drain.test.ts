/**
 * A backlogged share whose drain finishes synchronously (src/inbound-share.ts, #grant).
 *
 * Connections' push() returns false when the record went to the lane's backlog, and starts the
 * drain at once; when the parser freed ring space in between, the drain completes inside push()
 * and calls flushed() BEFORE push() returns. #grant used to add the record's mark (NaN,
 * "backlogged") only after push() returned, so that flushed() never saw it: the mark stayed NaN for
 * good, the connection's later bytes were never counted as released, and once it had a share's
 * worth in the ring it waited forever with its socket paused. In the quick benchmark under CPU
 * contention that was one connection of 100 with its whole window (256 frames) never acknowledged.
 * Here the host does exactly that synchronous drain on a real ring, and this test plays the parser.
 */
import { createRing, RingConsumer, RingProducer } from '@module-ingest/ring'
import test from 'ava'
import { InboundShares, type ShareConn, type ShareLane, shareBytes } from '../src/inbound-share.ts'
import { In } from '../src/messages.ts'

test('bytes backlogged and flushed within push() count as released once the parser consumed them', (t) => {
  const ring = createRing(256 * 1024)
  const lane: ShareLane<ShareConn> = {
    producer: new RingProducer(ring),
    connections: 1,
    waiting: false,
    turns: [],
  }
  const consumer = new RingConsumer(ring)
  const conn: ShareConn = { rest: null, marks: [], inRing: 0, queued: false }
  let syncDrains = 1
  let pauses = 0
  let open = true
  const shares = new InboundShares([lane], {
    push: (l, c, bytes) => {
      t.true(l.producer.tryWrite(In.DATA, 1, bytes))
      l.producer.publish()
      if (syncDrains === 0) return true
      // As Connections does when the backlog drains at once: flushed() runs inside push().
      syncDrains--
      shares.flushed(l, [c])
      return false
    },
    live: () => open,
    pause: () => pauses++,
    resume: () => {},
  })
  const share = shareBytes(lane.producer.maxRecordBytes * 2, 1)

  shares.feed(lane, conn, new Uint8Array(share)) // a whole share, backlogged and flushed at once
  t.is(conn.rest?.byteLength ?? 0, 0)
  // The parser consumes and releases it all.
  while (consumer.read(() => {}) > 0) consumer.release()
  consumer.release()

  shares.feed(lane, conn, new Uint8Array(1000))
  const rest = conn.rest?.byteLength ?? 0
  open = false // a connection left waiting (the bug) leaves its turn queue on the next round
  t.is(rest, 0, 'the released share makes room for the next bytes')
  t.is(pauses, 0)
  t.is(conn.inRing, 1000)
})
