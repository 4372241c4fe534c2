import { encodeBody } from '@module-ingest/log'
import test from 'ava'
import { formatRecord, parseFrom } from '../src/commands/tail.ts'

test('--from: LSN, ISO time, relative time', (t) => {
  t.deepEqual(parseFrom('42'), { fromLsn: 42 })
  t.deepEqual(parseFrom('2026-01-02T03:04:05Z'), { fromTimeUs: Date.parse('2026-01-02T03:04:05Z') * 1000 })
  t.deepEqual(parseFrom('-5m', 1_000_000), { fromTimeUs: (1_000_000 - 300_000) * 1000 })
  t.throws(() => parseFrom('yesterday-ish'), { message: /--from expects/ })
})

test('bodies print as text when printable UTF-8, else base64', (t) => {
  t.deepEqual(encodeBody(new TextEncoder().encode('héllo\tworld'), 'auto'), {
    encoding: 'utf8',
    body: 'héllo\tworld',
  })
  t.deepEqual(encodeBody(new Uint8Array([0xff, 0xfe]), 'auto'), { encoding: 'base64', body: '//4=' })
  t.deepEqual(encodeBody(new Uint8Array([0x41, 0x00]), 'auto'), { encoding: 'base64', body: 'QQA=' })
  const r = {
    lsn: 7,
    stream: 's',
    module: 'm',
    core: '',
    seq: 3n,
    ts: 1_000_000,
    rts: 2_000_000,
    body: new Uint8Array([0x68, 0x69]),
  }
  t.is(formatRecord(r, 'text'), '7\t1970-01-01T00:00:01.000Z\ts\tm\thi\n')
  t.deepEqual(JSON.parse(formatRecord(r, 'json')), {
    lsn: 7,
    stream: 's',
    module: 'm',
    core: '',
    seq: '3',
    ts: 1_000_000,
    rts: 2_000_000,
    bodyEncoding: 'utf8',
    body: 'hi',
  })
})
