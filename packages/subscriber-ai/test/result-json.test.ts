import test from 'ava'
import { rowValue } from '../src/backend.ts'
import { f32Text } from '../src/f32-text.ts'
import { resultWriter } from '../src/result-json.ts'

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
const { body: _b, rts: _r, seq: _s, ...meta } = r

/** JSON.parse, then every number rounded to float32 (what a consumer of float32 outputs does). */
const asF32 = (v: unknown): unknown =>
  typeof v === 'number' ? Math.fround(v) : Array.isArray(v) ? v.map(asF32) : v

test('the tensor writer gives the record provenance and each row of the outputs', (t) => {
  const n = 3
  const score = { dims: [n], data: new Float32Array([0.1, Number.NaN, 2.5]) }
  const code = { dims: [n, 2], data: new Float32Array([1, 2, 3, Infinity, 5, -6.25]) }
  const count = { dims: [n, 1], data: new BigInt64Array([1n, 2n ** 60n + 1n, -3n]) }
  const wide = { dims: [n], data: new Float64Array([0.1, 1 / 3, -2e-300]) }
  const names = ['score', 'code', 'n "c"', 'f64']
  const tensors = [score, code, count, wide]
  const write = resultWriter(names, tensors, n)
  for (let i = 0; i < n; i++) {
    for (const w of [undefined, { firstLsn: 3, size: 5 }]) {
      const got = JSON.parse(write(r, i, w))
      // JSON has no NaN/Infinity: null, as JSON.stringify writes them.
      const expected = JSON.parse(
        JSON.stringify({
          ...meta,
          ...(w ? { window: w } : {}),
          outputs: Object.fromEntries(names.map((name, k) => [name, rowValue(tensors[k]!, i, n)])),
        }),
      )
      const { score: s, code: c, ...exact } = got.outputs
      const { score: es, code: ec, ...expectedExact } = expected.outputs
      t.deepEqual({ ...got, outputs: exact }, { ...expected, outputs: expectedExact })
      t.deepEqual(asF32([s, c]), [es, ec])
    }
  }
  t.is(write(r, 0, undefined).includes('"score":0.1,'), true, 'float32 0.1 prints as 0.1')
  t.is(write(r, 0, undefined).includes('"f64":0.1}'), true, 'a float64 output keeps double digits')
})

test('a ts above 2^53-1 (a bigint) is a decimal string, as recordToJson prints it', (t) => {
  const big = { ...r, ts: 2n ** 64n - 1n }
  const write = resultWriter(['score'], [{ dims: [1], data: new Float32Array([1]) }], 1)
  t.is(JSON.parse(write(big, 0, undefined)).ts, '18446744073709551615')
})

test('float32 text: parsing it and rounding to float32 gives the same float32, in JS number layout', (t) => {
  const f = new Float32Array(1)
  const bits = new Uint32Array(f.buffer)
  const check = (x: number) => {
    const text = f32Text(x)
    if (Number.isNaN(x) || !Number.isFinite(x)) return text === 'null'
    return Object.is(Math.fround(JSON.parse(text)), x === 0 ? 0 : x) && String(Number(text)) === text
  }
  const edge = [
    0, -0, 1, -1, 0.1, 1e-7, 1e21, 3.4028234663852886e38, 1.401298464324817e-45, 1.1754943508222875e-38,
  ]
  edge.push(1.1754942106924411e-38, 16777216, 16777217, 123456789, 1e-6, 9.999999e-7, 1e20, 1e22, 1e23)
  edge.push(Number.NaN, Infinity, -Infinity)
  for (const x of edge) t.true(check(Math.fround(x)), `${x} → ${f32Text(Math.fround(x))}`)
  let bad = 0
  // Every exponent: random bit patterns (subnormals, ±0, NaNs, infinities included).
  for (let i = 0; i < 200_000; i++) {
    bits[0] = (Math.random() * 2 ** 32) >>> 0
    if (!check(f[0]!)) bad++
  }
  // Typical model outputs.
  for (let i = 0; i < 100_000; i++)
    if (!check(Math.fround((Math.random() - 0.5) * 10 ** ((i % 12) - 6)))) bad++
  t.is(bad, 0)
  t.is(f32Text(Math.fround(0.1)), '0.1')
  t.is(f32Text(-0), '0')
  t.is(f32Text(Math.fround(1e-7)), '1e-7')
  t.is(f32Text(Math.fround(3.4028234663852886e38)), '3.4028235e+38')
})

test('float32 text is the shortest: no decimal of fewer digits rounds to the same float32', (t) => {
  const f = new Float32Array(1)
  const bits = new Uint32Array(f.buffer)
  const digits = (s: string) =>
    s
      .replace(/e.*|[-.]/g, '')
      .replace(/^0+/, '')
      .replace(/0+$/, '').length
  let longer = 0
  for (let i = 0; i < 50_000; i++) {
    bits[0] = (Math.random() * 2 ** 32) >>> 0
    const x = f[0]!
    if (!Number.isFinite(x) || x === 0) continue
    const p = digits(f32Text(x))
    if (p > 1 && Math.fround(Number(x.toPrecision(p - 1))) === x) longer++
  }
  t.is(longer, 0)
})
