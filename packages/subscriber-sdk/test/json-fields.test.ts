/** The byte reader of JSON fields against JSON.parse: same values, or it declines (never wrong). */

import { seededRandom } from '@module-ingest/testing/random'
import test from 'ava'
import { jsonFieldReader } from '../src/json-fields.ts'

const fields = ['a', 'b_2', 'temp']
const read = jsonFieldReader(fields)!
const encoder = new TextEncoder()

/**
 * What JSON.parse gives for the fields (NaN for an absent one), or undefined when a reader must
 * decline: not a JSON object, or a declared field that is not a number.
 */
function reference(text: string): Float64Array | undefined {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    return undefined
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return undefined
  const out = new Float64Array(fields.length)
  for (let i = 0; i < fields.length; i++) {
    const v = (doc as Record<string, unknown>)[fields[i]!]
    if (v === undefined) out[i] = Number.NaN
    else if (typeof v !== 'number' || !Number.isFinite(v)) return undefined
    else out[i] = v
  }
  return out
}

/** Values as strings that tell -0 from 0 (deepEqual treats them as equal). */
const show = (xs: Float64Array) => [...xs].map((v) => (Object.is(v, -0) ? '-0' : String(v)))

/** Checks one body; true when the reader took it. */
function check(t: import('ava').ExecutionContext, text: string): boolean {
  const want = reference(text)
  const got = new Float64Array(fields.length + 2).fill(7)
  const found = read(encoder.encode(text), got, 1)
  if (found < 0) return false
  // Accepted: exactly JSON.parse's doubles (Object.is: -0 and NaN too), nothing written outside.
  t.truthy(want, `accepted what JSON.parse does not give: ${text}`)
  t.deepEqual(show(got.subarray(1, 1 + fields.length)), show(want!), text)
  t.is(got[0], 7)
  t.is(got[fields.length + 1], 7)
  t.is(found, want!.filter((v) => !Number.isNaN(v)).length, text)
  return true
}

const numbers = [
  '0',
  '-0',
  '1',
  '-1',
  '0.1',
  '3.141592653589793',
  '1e3',
  '1E-3',
  '2.5e+10',
  '123456789012345',
  '9007199254740991',
  '9007199254740993',
  '12345678901234567890',
  '0.30000000000000004',
  '1e22',
  '1e23',
  '1e-22',
  '1e-23',
  '1e400',
  '-1e400',
  '4.9e-324',
  '0.000000000000000000000001',
  '00',
  '01',
  '1.',
  '.5',
  '-',
  '+1',
  '1e',
  '1e+',
  '0x10',
  'NaN',
  'Infinity',
  '1.5e-7',
  '65504.0001',
]

test('accepted bodies give exactly JSON.parse values; the others are declined', (t) => {
  let accepted = 0
  for (const x of numbers) {
    if (check(t, `{"a":${x},"b_2":2,"temp":3}`)) accepted++
    check(t, `{"temp":3,"b_2":${x},"a":1,"other":${x}}`)
  }
  for (const text of [
    '{"a":1,"b_2":2,"temp":3}',
    ' \n{ "a" : 1 , "b_2":2,\t"temp":3 } \r\n',
    '{"a":1,"b_2":2,"temp":3,"s":"text","t":true,"f":false,"n":null}',
    '{"a":1,"a":5,"b_2":2,"temp":3}', // duplicate: last wins
    '{"a":1,"b_2":2}', // missing
    '{"pad":"x"}', // none
    '{"a":1,"b_2":"2","temp":3}', // a string
    '{"a":1,"b_2":null,"temp":3}',
    '{"a":1,"b_2":2,"temp":3,"nested":{"x":1}}',
    '{"a":1,"b_2":2,"temp":3,"arr":[1,2]}',
    '{"a":1,"b_2":2,"temp":3,"esc":"a\\"b"}',
    '{"\\u0061":7,"a":1,"b_2":2,"temp":3}', // an escaped key that names a field
    '{"a":1,"b_2":2,"temp":3,"ü":"ä"}',
    '\ufeff{"a":1,"b_2":2,"temp":3}',
    '{"a":1,"b_2":2,"temp":3}x',
    '{"a":1,"b_2":2,"temp":3},',
    '{"a":1,"b_2":2,"temp":3',
    '{"a":1,,"b_2":2,"temp":3}',
    '{"a":1,"b_2":2,"temp":3,}',
    '{"a" 1,"b_2":2,"temp":3}',
    '{"a":1,"b_2":2,"temp":3,"t":tru}',
    '{"a":1,"b_2":2,"temp":3,"t":truex}',
    '{a:1,"b_2":2,"temp":3}',
    '[1,2,3]',
    '{}',
    '',
    'null',
    '{"a":1,"b_2":2,"temp":3,"ctl":"\u0001"}',
  ]) {
    check(t, text)
  }
  t.true(accepted >= 14, `${accepted} of the plain numbers took the fast path`)
  t.true(check(t, '{"a":1,"b_2":2}') && check(t, '{}'), 'absent fields are NaN, not a reason to decline')
})

test('property: random flat and not-so-flat objects agree with JSON.parse', (t) => {
  const rand = seededRandom(15)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
  const randomNumber = () => {
    const r = rand()
    if (r < 0.3) return String(Math.round((rand() - 0.5) * 1e6) / 1000)
    if (r < 0.5) {
      const x = (rand() - 0.5) * 10 ** Math.floor(rand() * 60 - 30)
      return rand() < 0.7 ? String(Number(x.toPrecision(1 + Math.floor(rand() * 15)))) : String(x)
    }
    if (r < 0.6) return String(Math.floor(rand() * 2 ** 60))
    if (r < 0.7) return `${Math.floor(rand() * 1000)}e${Math.floor(rand() * 60 - 30)}`
    return pick(numbers)
  }
  const values = () =>
    pick([randomNumber(), randomNumber(), randomNumber(), '"x"', 'true', 'false', 'null', '{}', '[1]', '"é"'])
  let accepted = 0
  for (let i = 0; i < 20_000; i++) {
    const keys = [...fields, 'x', 'pad', 'aa', 'te'].filter(() => rand() < 0.85)
    keys.sort(() => rand() - 0.5)
    const ws = () => pick(['', '', '', ' ', '\n', '\t '])
    let text = `${ws()}{${keys
      .map(
        (k) =>
          `${ws()}"${k}"${ws()}:${ws()}${fields.includes(k) && rand() < 0.9 ? randomNumber() : values()}${ws()}`,
      )
      .join(',')}}${ws()}`
    if (rand() < 0.05) {
      // damage one byte
      const at = Math.floor(rand() * text.length)
      text = text.slice(0, at) + pick([',', '}', '"', ':', 'x', '.', '-', 'e', '']) + text.slice(at + 1)
    }
    if (check(t, text)) accepted++
  }
  t.true(accepted > 300, `${accepted} took the fast path`)
})

test('dotted paths and fields that would need escapes are not read by bytes', (t) => {
  t.is(jsonFieldReader(['a.b']), undefined)
  t.is(jsonFieldReader(['say "hi"']), undefined)
  t.is(jsonFieldReader(['ü']), undefined)
  t.truthy(jsonFieldReader(['a', 'b c']))
})

test('a Float32Array gets the double rounded to float32', (t) => {
  const out = new Float32Array(3)
  t.is(read(encoder.encode('{"a":0.1,"b_2":65504.0001,"temp":-0}'), out, 0), 3)
  t.deepEqual([...out], [Math.fround(0.1), Math.fround(65504.0001), -0])
})
