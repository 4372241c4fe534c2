import test from 'ava'
import { decodeOp, encodeOp, type KvValue, valueText } from '../src/ops.ts'

test("a decoded set carries its value's stored text (what valueText gives), so the store need not re-serialize it", (t) => {
  const values: KvValue[] = [
    { type: 'string', value: 'héllo' },
    { type: 'json', value: { a: [1, { b: null }] } },
    { type: 'list', value: [1, 'x', true] },
    { type: 'int', value: -9_223_372_036_854_775_808n },
    { type: 'bool', value: false },
  ]
  for (const value of values) {
    const d = decodeOp(encodeOp({ op: 'set', key: 'k', value }))
    t.is(d.text, valueText(value), value.type)
  }
  t.is(decodeOp(encodeOp({ op: 'del', key: 'k' })).text, undefined)
})
