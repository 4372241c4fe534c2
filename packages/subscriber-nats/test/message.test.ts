import test from 'ava'
import { Header, msgIdOf } from '../src/index.ts'
import { headersOf } from '../src/message.ts'

const record = {
  lsn: 42,
  stream: 'env.temp',
  module: 'm-1',
  core: 'c0',
  seq: 7n,
  ts: 1_000_001,
  rts: 1_000_002,
}

test('Nats-Msg-Id is <source>:<lsn>:<module>:<core>:<seq>', (t) => {
  t.is(msgIdOf('edge-1', record), 'edge-1:42:m-1:c0:7')
  t.is(msgIdOf('edge-1', { ...record, core: '' }), 'edge-1:42:m-1::7')
})

test('records of one producer BATCH (same seq) get distinct ids; a redelivery gets the same id', (t) => {
  const a = msgIdOf('h', { ...record, lsn: 1 })
  const b = msgIdOf('h', { ...record, lsn: 2 })
  t.not(a, b)
  t.is(msgIdOf('h', { ...record, lsn: 1 }), a)
  t.not(msgIdOf('other-host', { ...record, lsn: 1 }), a)
})

test('a reused lsn (log recreated) with another record does not collide', (t) => {
  t.not(msgIdOf('h', record), msgIdOf('h', { ...record, module: 'other' }))
  t.not(msgIdOf('h', record), msgIdOf('h', { ...record, seq: 8n }))
})

test('MI-* headers carry the original fields; line breaks cannot break the header block', (t) => {
  const h = headersOf('edge-1', { ...record, module: 'a\r\nb' })
  t.is(h.get(Header.source), 'edge-1')
  t.is(h.get(Header.stream), 'env.temp')
  t.is(h.get(Header.module), 'a__b')
  t.is(h.get(Header.core), 'c0')
  t.is(h.get(Header.seq), '7')
  t.is(h.get(Header.ts), '1000001')
  t.is(h.get(Header.rts), '1000002')
  t.is(h.get(Header.lsn), '42')
})
