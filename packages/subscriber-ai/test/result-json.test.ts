import test from 'ava'
import { rowValue } from '../src/backend.ts'
import { resultJson, resultWriter } from '../src/result-json.ts'

const r = {
  lsn: 7,
  module: 'pump "7"\n',
  core: '',
  stream: 'telemetry.ü',
  ts: 1796539701687000,
  rts: 0,
  seq: 1n,
  body: new Uint8Array(),
}

test('the hand-written JSON equals JSON.stringify of the same result', (t) => {
  const values = [Math.fround(0.1), [1.5, Number.NaN, -Infinity, 3e-9]]
  const text = resultJson(r, ['score', 'code'], values, undefined)
  const { body: _b, rts: _r, seq: _s, ...meta } = r
  t.is(text, JSON.stringify({ ...meta, outputs: { score: values[0], code: values[1] } }))
  const windowed = resultJson(r, ['a "b"'], [2], { firstLsn: 3, size: 5 })
  t.is(windowed, JSON.stringify({ ...meta, window: { firstLsn: 3, size: 5 }, outputs: { 'a "b"': 2 } }))
})

test('a ts above 2^53-1 (a bigint) is a decimal string, as recordToJson prints it', (t) => {
  const big = { ...r, ts: 2n ** 64n - 1n }
  t.is(JSON.parse(resultJson(big, ['score'], [1], undefined)).ts, '18446744073709551615')
})

test('the tensor writer gives the same JSON as resultJson of rowValue', (t) => {
  const n = 3
  const score = { dims: [n], data: new Float32Array([0.1, Number.NaN, 2.5]) }
  const code = { dims: [n, 2], data: new Float32Array([1, 2, 3, Infinity, 5, -6.25]) }
  const count = { dims: [n, 1], data: new BigInt64Array([1n, 2n ** 60n + 1n, -3n]) }
  const names = ['score', 'code', 'n "c"']
  const tensors = [score, code, count]
  const write = resultWriter(names, tensors, n)
  for (let i = 0; i < n; i++) {
    const values = tensors.map((x) => rowValue(x, i, n))
    for (const w of [undefined, { firstLsn: 3, size: 5 }]) {
      t.is(write(r, i, w), resultJson(r, names, values, w))
    }
  }
})
