/**
 * The JSON mapping: the byte reader (@module-ingest/subscriber-sdk/json-fields, property-tested
 * there against JSON.parse) takes what it decodes exactly, JSON.parse the rest and words errors.
 */
import test from 'ava'
import { compileMapping } from '../src/mapping.ts'

const { map } = compileMapping({ format: 'json', fields: ['a', 'b_2', 'temp'] } as never)
const run = (text: string) => {
  const out = new Float32Array(3)
  const why = map(new TextEncoder().encode(text), out, 0)
  return why ?? [...out]
}

test('bodies the byte reader takes and those it leaves to JSON.parse map alike', (t) => {
  t.deepEqual(run('{"a":1,"b_2":0.5,"temp":-3}'), [1, 0.5, -3]) // byte reader
  t.deepEqual(run('{"a":1,"b_2":0.5,"temp":-3,"n":{"x":1}}'), [1, 0.5, -3]) // nested: JSON.parse
  t.deepEqual(run('{"a":1,"b_2":0.5,"temp":1e30}'), [1, 0.5, Math.fround(1e30)]) // |e| > 22
  t.deepEqual(run('\ufeff{"a":1,"b_2":0.5,"temp":2}'), [1, 0.5, 2]) // a BOM: TextDecoder drops it
})

test('a missing or non-numeric field is an error, worded by the JSON.parse path', (t) => {
  t.is(run('{"a":1,"b_2":0.5}'), 'field temp is missing')
  t.is(run('{"a":1,"b_2":"x","temp":2}'), 'field b_2 is not a finite number')
  t.is(run('{"a":1,"b_2":2,"temp":1e400}'), 'field temp is not a finite number')
  t.regex(run('{"a":1,') as string, /^not json: /)
})
