import test from 'ava'
import { parseCommand } from '../src/grammar.ts'

test('SET with TTL, inferred and explicit types, IF REV', (t) => {
  t.deepEqual(parseCommand('SET k v FROM ns TTL 10s'), {
    kind: 'write',
    ops: [{ ns: 'ns', op: { op: 'set', key: 'k', value: { type: 'string', value: 'v' }, ttlMs: 10_000 } }],
  })
  const v = (cmd: string) => {
    const c = parseCommand(cmd)
    return c.kind === 'write' && c.ops[0]!.op.op === 'set' ? c.ops[0]!.op.value : undefined
  }
  t.deepEqual(v('set k 42 from ns'), { type: 'int', value: 42n })
  t.deepEqual(v('SET k -9223372036854775808 FROM ns'), { type: 'int', value: -(2n ** 63n) })
  t.deepEqual(v('SET k true FROM ns'), { type: 'bool', value: true })
  t.deepEqual(v('SET k {"a": [1, 2]} FROM ns'), { type: 'json', value: { a: [1, 2] } })
  t.deepEqual(v('SET k [1, "two"] FROM ns'), { type: 'list', value: [1, 'two'] })
  t.deepEqual(v('SET k "42" FROM ns'), { type: 'string', value: '42' })
  t.deepEqual(v("SET k 'two words' FROM ns"), { type: 'string', value: 'two words' })
  t.deepEqual(v('SET k 42 FROM ns TYPE string'), { type: 'string', value: '42' })
  t.deepEqual(v('SET k 7 FROM ns TYPE json'), { type: 'json', value: 7 })
  const c = parseCommand('SET k 1 FROM ns IF REV 17 TTL 1500ms')
  t.like(c, { kind: 'write', ops: [{ op: { rev: 17, ttlMs: 1500 } }] })
})

test('HSET, LSET, DEL, GET, KEYS and ";" transactions', (t) => {
  t.like(parseCommand('HSET dev {"fw": "1.2"} FROM cfg'), {
    ops: [{ ns: 'cfg', op: { op: 'hset', key: 'dev', value: { fw: '1.2' } } }],
  })
  t.like(parseCommand('HSET dev fw "1.2" FROM cfg'), {
    ops: [{ op: { op: 'hset', field: 'fw', value: '1.2' } }],
  })
  t.like(parseCommand('LSET q PUSH {"job": 1} FROM jobs TTL 1h'), {
    ops: [{ op: { op: 'lset', action: 'push', value: { job: 1 }, ttlMs: 3_600_000 } }],
  })
  t.like(parseCommand('LSET q POP FROM jobs'), { ops: [{ op: { action: 'pop' } }] })
  t.like(parseCommand('LSET q SET -1 3 FROM jobs'), { ops: [{ op: { action: 'set', index: -1, value: 3 } }] })
  t.like(parseCommand('LSET q REMOVE 0 FROM jobs'), { ops: [{ op: { action: 'remove', index: 0 } }] })
  t.like(parseCommand('DEL k FROM ns IF REV 3'), { ops: [{ op: { op: 'del', key: 'k', rev: 3 } }] })
  t.deepEqual(parseCommand('GET k FROM ns'), { kind: 'get', ns: 'ns', key: 'k' })
  t.deepEqual(parseCommand('KEYS dev. FROM ns'), { kind: 'keys', ns: 'ns', prefix: 'dev.' })
  t.deepEqual(parseCommand('keys from ns'), { kind: 'keys', ns: 'ns' })
  const txn = parseCommand('SET a 1 FROM x; DEL b FROM y ;')
  t.like(txn, { kind: 'write', ops: [{ ns: 'x' }, { ns: 'y', op: { op: 'del' } }] })
})

test('bad commands say what is wrong', (t) => {
  const bad = (cmd: string, re: RegExp) =>
    t.throws(() => parseCommand(cmd), { code: 'MI_ERR_KV_COMMAND_INVALID', message: re }, cmd)
  bad('', /empty/)
  bad('SET k v', /FROM/)
  bad('SET k v FROM ns TTL 10y', /unit/)
  bad('SET k v FROM ns TTL 0s', /ttlMs/)
  bad('SET k v FROM ns TYPE float', /TYPE float/)
  bad('SET k notanumber FROM ns TYPE int', /64-bit/)
  bad('INCR k FROM ns', /unknown command/)
  bad('LSET k PUSH FROM ns', /usage/)
  bad('LSET k FLIP FROM ns', /PUSH\|UNSHIFT/)
  bad('GET k FROM ns; SET a 1 FROM ns', /only writes/)
  bad('SET k "open FROM ns', /unterminated/)
  bad('HSET k {bad json} FROM ns', /not JSON/)
  bad('DEL k FROM ns TTL 5s', /no TTL/)
})
