import { EventEmitter } from 'node:events'
import type { ServerResponse } from 'node:http'
import test from 'ava'
import { SseClient } from '../src/sse.ts'

/** A response whose socket is "full" until drain(): write() returns false, like a stalled browser. */
class FakeRes extends EventEmitter {
  writes: string[] = []
  full = false
  destroyed = false
  writableEnded = false
  write(chunk: string): boolean {
    this.writes.push(chunk)
    return !this.full
  }
  end(): void {
    this.writableEnded = true
  }
  drain(): void {
    this.full = false
    this.emit('drain')
  }
}

test('a slow client gets only the newest frame once it drains; nothing piles up', (t) => {
  const res = new FakeRes()
  const c = new SseClient(res as unknown as ServerResponse)
  c.send(1, '{"n":1}', 'sample')
  t.is(res.writes.length, 1)
  t.is(res.writes[0], 'event: sample\nid: 1\ndata: {"n":1}\n\n')

  res.full = true
  c.send(2, '{"n":2}', 'sample') // written, and write() says the socket is full
  for (let i = 3; i <= 1000; i++) c.send(i, `{"n":${i}}`, 'sample') // all held back but the newest
  t.is(res.writes.length, 2)
  t.is(c.dropped, 997)

  res.drain()
  t.is(res.writes.length, 3)
  t.regex(res.writes[2] as string, /^event: sample\nid: 1000\n/)
  c.send(1001, '{}', 'sample')
  t.is(res.writes.length, 4, 'a drained client is written to directly again')
})

test('the history frame is never dropped, and an ended response is not written to', (t) => {
  const res = new FakeRes()
  res.full = true
  const c = new SseClient(res as unknown as ServerResponse)
  c.sendNow(5, '{"samples":[]}', 'history')
  c.sendNow(6, '{"samples":[]}', 'history')
  t.is(res.writes.length, 2)
  c.end()
  c.send(7, '{}')
  t.is(res.writes.length, 2)
})
