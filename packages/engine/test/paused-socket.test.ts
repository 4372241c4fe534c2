/**
 * Issue 14 goal 5: a socket must never stay paused when its parser ring has room again.
 *
 * The race: a 'data' chunk does not fit the inbound ring, goes to the backlog and starts the
 * backlog drain; the parser frees space before the drain's first retry, so the drain finishes
 * synchronously and resumes the paused set — before the socket had been added to it. The socket
 * then stayed paused forever with an empty ring and an empty backlog. Reproduced here without
 * timing luck: one tryWrite is made to fail, exactly as a full ring that empties right after.
 */
import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import { createDoorbell, createRing, RingConsumer, RingProducer } from '@module-ingest/ring'
import test from 'ava'
import { Connections } from '../src/connections.ts'
import { In } from '../src/messages.ts'

class FakeSocket extends EventEmitter {
  remoteAddress = '127.0.0.1'
  writableLength = 0
  paused = false
  setNoDelay() {}
  pause() {
    this.paused = true
    return this
  }
  resume() {
    this.paused = false
    return this
  }
  destroy() {
    this.emit('close')
  }
  cork() {}
  uncork() {}
  write() {
    return true
  }
  end() {}
}

test('a chunk that meets a full ring which empties at once does not leave its socket paused', (t) => {
  const inbound = createRing(64 * 1024)
  const outbound = createRing(64 * 1024)
  const conns = new Connections(
    [{ inbound, outbound, doorbell: createDoorbell() }],
    createDoorbell(),
    { maxConnections: 10, maxConnectionsPerIp: 10, ipBytesPerSec: 0 },
    { admit: () => 0 },
  )
  const socket = new FakeSocket()
  conns.accept(socket as unknown as Socket)

  const tryWrite = RingProducer.prototype.tryWrite
  let failNext = true
  RingProducer.prototype.tryWrite = function (this: RingProducer, kind, tag, data) {
    // The ring "is full" for the first DATA write only; the drain's retry finds room.
    if (kind === In.DATA && failNext) {
      failNext = false
      return false
    }
    return tryWrite.call(this, kind, tag, data)
  }
  try {
    socket.emit('data', Buffer.from('hello'))
  } finally {
    RingProducer.prototype.tryWrite = tryWrite
  }

  t.false(failNext, 'the ring refused the chunk once')
  const stats = conns.stats()
  t.is(stats.backlog, 0, 'the drain moved the chunk into the ring')
  t.is(stats.pausedSockets, 0, 'no socket left in the paused set')
  t.false(socket.paused, 'the socket reads again')

  // The chunk reached the parser side, after OPEN.
  const consumer = new RingConsumer(inbound)
  const kinds: number[] = []
  consumer.read((_data, kind) => {
    kinds.push(kind)
  })
  t.deepEqual(kinds, [In.OPEN, In.DATA])
  conns.stopReading()
  socket.destroy()
})
