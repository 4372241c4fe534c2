// In-process checks of the small pure pieces the commands share.

import { encodeBody } from '@module-ingest/log'
import test from 'ava'
import { globToRegExp, parseBound, selection } from '../src/filters.ts'

test('globToRegExp: * ? [..] [!..], everything else literal', (t) => {
  const m = (g: string, s: string) => globToRegExp(g).test(s)
  t.true(m('sensors/*', 'sensors/a/b'))
  t.false(m('sensors/*', 'sensor/a'))
  t.true(m('s?', 'sx'))
  t.false(m('s?', 'sxy'))
  t.true(m('[ab]x', 'bx'))
  t.false(m('[!ab]x', 'ax'))
  t.true(m('a.b+(c)', 'a.b+(c)'))
  t.false(m('a.b', 'aXb'))
})

test('parseBound: lsn, ISO, relative, now; junk is a usage error', (t) => {
  const now = Date.UTC(2026, 0, 2)
  t.deepEqual(parseBound('--from', '42', now), { lsn: 42 })
  t.deepEqual(parseBound('--from', '-5m', now), { timeUs: (now - 300_000) * 1000 })
  t.deepEqual(parseBound('--from', '2026-01-01T00:00:00Z', now), { timeUs: Date.UTC(2026, 0, 1) * 1000 })
  t.deepEqual(parseBound('--to', 'now', now), { timeUs: now * 1000 })
  t.throws(() => parseBound('--from', 'soon', now), { code: 'MI_ERR_RECOVER_USAGE' })
  t.throws(() => selection({ limit: '-1' }), { code: 'MI_ERR_RECOVER_USAGE' })
})

test('encodeBody: auto picks text only for printable UTF-8', (t) => {
  const enc = new TextEncoder()
  t.deepEqual(encodeBody(enc.encode('héllo\tworld\n'), 'auto'), { encoding: 'utf8', body: 'héllo\tworld\n' })
  t.is(encodeBody(new Uint8Array([0x68, 0x00]), 'auto').encoding, 'base64')
  t.is(encodeBody(new Uint8Array([0xff, 0xfe]), 'auto').encoding, 'base64')
  t.deepEqual(encodeBody(new Uint8Array([0xde, 0xad]), 'hex'), { encoding: 'hex', body: 'dead' })
})
