/**
 * The fast path (wire.ts) changes no outcome: on random ops, damaged bodies and random bytes,
 * decodeOp (fast path first) gives what the general decoder gives, or the same error; and the
 * JSON validator never vouches for text JSON.parse rejects.
 */
import test from 'ava'
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import { decodeGeneral, decodeOp, encodeOp, type KvOp } from '../src/ops.ts'
import { isJson, plainJsonSet } from '../src/wire.ts'

const packr = new Packr({ useRecords: false, int64AsType: 'bigint' })
const bytes = (s: string) => Buffer.from(s, 'latin1')
const parses = (s: string) => {
  try {
    JSON.parse(s)
    return true
  } catch {
    return false
  }
}
/** decodeOp and decodeGeneral agree: same op (value read out), txn and text, or the same error. */
function same(body: Uint8Array): { fast: boolean; ok: boolean; equal: boolean; detail?: unknown } {
  const run = (f: typeof decodeOp) => {
    try {
      const d = f(body)
      const op = { ...d.op } as Record<string, unknown>
      if (op.value && typeof op.value === 'object' && 'type' in (op.value as object)) {
        const v = op.value as { type: string; value: unknown }
        op.value = { type: v.type, value: v.value }
      }
      return { op, txn: d.txn, text: d.text }
    } catch (err) {
      return { code: (err as { code?: string }).code, message: (err as Error).message }
    }
  }
  const a = run(decodeOp)
  const b = run(decodeGeneral)
  const equal =
    JSON.stringify(a, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)) ===
    JSON.stringify(b, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))
  return {
    fast: plainJsonSet(body) !== undefined,
    ok: !('code' in a),
    equal,
    detail: equal ? undefined : { a, b },
  }
}

const json = fc.jsonValue({ maxDepth: 4 })
const op: fc.Arbitrary<KvOp> = fc.oneof(
  fc.record({
    op: fc.constant('set' as const),
    key: fc.string({ minLength: 1, maxLength: 12 }),
    value: json.map((v) => ({ type: 'json' as const, value: v })),
  }),
  fc.record({
    op: fc.constant('set' as const),
    key: fc.constantFrom('k', 'dev-1'),
    value: fc.string().map((v) => ({ type: 'string' as const, value: v })),
    ttlMs: fc.option(fc.integer({ min: 1, max: 1e6 }), { nil: undefined }),
  }),
  fc.record({ op: fc.constant('del' as const), key: fc.constantFrom('k', 'x') }),
  fc.record({
    op: fc.constant('hset' as const),
    key: fc.constant('h'),
    value: fc.dictionary(fc.string({ maxLength: 3 }), json),
  }),
)

test('random ops: the fast path takes plain JSON sets and decodes them as the general decoder does', (t) => {
  let fast = 0
  fc.assert(
    fc.property(op, fc.integer({ min: 1, max: 1000 }), (o, txn) => {
      const r = same(encodeOp(o, txn))
      if (r.fast) fast++
      if (!r.equal) t.log(r.detail)
      return r.equal && r.ok
    }),
    { numRuns: 2000 },
  )
  t.true(fast > 100, `fast path taken ${fast} times`)
})

test('damaged bodies and random maps: decodeOp gives the general result or the same error', (t) => {
  const body = fc.oneof(
    // A valid body with bytes flipped, cut or extended.
    fc
      .tuple(
        op,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.integer({ min: -3, max: 3 }),
      )
      .map(([o, flips, cut]) => {
        const b = Buffer.from(encodeOp(o))
        for (const [at, v] of flips) b[at % b.length] = v
        return cut < 0
          ? b.subarray(0, Math.max(0, b.length + cut))
          : Buffer.concat([b, Buffer.alloc(cut, 0xa0)])
      }),
    // Maps with the fast path's fields in any order, duplicated, with odd values.
    fc
      .array(
        fc.tuple(
          fc.constantFrom('op', 'key', 'type', 'value', 'txn', 'rev', 'ttlMs', 'x'),
          fc.oneof(
            fc.constantFrom('set', 'json', 'del', 'k', '', 'k\u0000', 'é', '{"a":1}', '[1,', 'null'),
            fc.integer({ min: -2, max: 70000 }),
            fc.constant(null),
            json.map((v) => JSON.stringify(v)),
          ),
        ),
        { maxLength: 7 },
      )
      .map((kvs) => {
        // Built by hand so duplicate fields reach the decoder.
        const parts: Uint8Array[] = [Buffer.from([0x80 | kvs.length])]
        for (const [k, v] of kvs) parts.push(packr.pack(k), packr.pack(v))
        return Buffer.concat(parts)
      }),
    fc.uint8Array({ maxLength: 40 }),
  )
  fc.assert(
    fc.property(body, (b) => {
      const r = same(b)
      if (!r.equal) t.log(r.detail)
      return r.equal
    }),
    { numRuns: 5000 },
  )
  t.pass()
})

test('isJson vouches only for what JSON.parse accepts, and for all ASCII JSON.stringify output', (t) => {
  const cases = [
    '0',
    '-0',
    '01',
    '1.',
    '.5',
    '-',
    '1e',
    '1e+',
    '1E-2',
    '2.5e10',
    '"\\u12G4"',
    '"\\u00e9"',
    '"\\x"',
    '"\\/"',
    '[1,]',
    '[,1]',
    '{"a":1,}',
    '{"a" 1}',
    '{1:2}',
    ' 1 ',
    '\t[ ]\r\n',
    '',
    ' ',
    'tru',
    'nul',
    'falsey',
    '"a\u0001"',
    '"\u007f"',
    '[[[]]]',
    '{"a":{"b":[true,false,null]}}',
    '"',
    '"\\"',
    '[1 2]',
    '{}',
    '{"a":1}x',
    '1 2',
    '\u00a01',
    '\ufeff1',
  ]
  for (const c of cases) {
    const b = bytes(c)
    if (isJson(b, 0, b.length)) t.true(parses(c), c)
    else if (/^[\x00-\x7f]*$/.test(c)) t.false(parses(c), `rejects valid ${JSON.stringify(c)}`)
  }
  fc.assert(
    fc.property(
      fc.jsonValue({ maxDepth: 8 }),
      fc.array(
        fc.tuple(
          fc.nat(),
          fc.constantFrom(
            ' ',
            '"',
            '\\',
            ',',
            ':',
            '[',
            ']',
            '{',
            '}',
            '0',
            '-',
            '.',
            'e',
            'u',
            'a',
            '\u0000',
            '\u00ff',
          ),
        ),
        { maxLength: 3 },
      ),
      (v, edits) => {
        const s = JSON.stringify(v)
        const ascii = /^[\x00-\x7f]*$/.test(s)
        const b = bytes(s)
        if (ascii && !isJson(b, 0, b.length)) return false
        let d = s
        for (const [at, ch] of edits) {
          const i = at % (d.length + 1)
          d = at % 2 ? d.slice(0, i) + ch + d.slice(i) : d.slice(0, i) + ch + d.slice(i + 1)
        }
        const db = bytes(d)
        return !isJson(db, 0, db.length) || parses(d)
      },
    ),
    { numRuns: 5000 },
  )
  // Nesting past its depth: not vouched for (JSON.parse decides).
  const deep = bytes(`${'['.repeat(300)}${']'.repeat(300)}`)
  t.false(isJson(deep, 0, deep.length))
})
