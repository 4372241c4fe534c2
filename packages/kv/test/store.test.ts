import { join } from 'node:path'
import test from 'ava'
import { Packr } from 'msgpackr'
import { KvReader } from '../src/read.ts'
import { KvStore } from '../src/store.ts'
import { LogSim, T0, tempDir } from './_helpers.ts'

function open(t: import('ava').ExecutionContext, o = {}) {
  const path = join(tempDir(t), 'kv.sqlite')
  const store = new KvStore(path, o)
  const reader = new KvReader(path)
  t.teardown(() => {
    reader.close()
    store.close()
  })
  return { store, reader, log: new LogSim(), path }
}
const packr = new Packr({ useRecords: false })

test('every type round-trips with its revision', (t) => {
  const { store, reader, log } = open(t)
  store.apply(log.frame('dev', [{ op: 'set', key: 's', value: { type: 'string', value: 'héllo' } }]))
  store.apply(
    log.frame('dev', [{ op: 'set', key: 'j', value: { type: 'json', value: { a: [1, { b: null }] } } }]),
  )
  store.apply(log.frame('dev', [{ op: 'set', key: 'l', value: { type: 'list', value: [1, 'x', true] } }]))
  store.apply(
    log.frame('dev', [{ op: 'set', key: 'i', value: { type: 'int', value: 9_223_372_036_854_775_807n } }]),
  )
  store.apply(log.frame('dev', [{ op: 'set', key: 'b', value: { type: 'bool', value: false } }]))
  const at = T0 + 1
  t.like(reader.get('dev', 's', at), { type: 'string', value: 'héllo', revision: 1 })
  t.deepEqual(reader.get('dev', 'j', at)?.value, { a: [1, { b: null }] })
  t.deepEqual(reader.get('dev', 'l', at)?.value, [1, 'x', true])
  t.is(reader.get('dev', 'i', at)?.value, 9_223_372_036_854_775_807n)
  t.like(reader.get('dev', 'b', at), { type: 'bool', value: false, revision: 5 })
  t.is(reader.get('other', 's', at), undefined, 'namespaces are separate')
  t.is(reader.appliedLsn(), 5)
  t.deepEqual(reader.keys('dev', { limit: 2 }, at), {
    keys: [
      { key: 'b', type: 'bool', revision: 5, expiresAt: null },
      { key: 'i', type: 'int', revision: 4, expiresAt: null },
    ],
    next: 'i',
  })
  t.deepEqual(
    reader.keys('dev', { limit: 10, after: 'i' }, at).keys.map((k) => k.key),
    ['j', 'l', 's'],
  )
  t.deepEqual(
    reader.keys('dev', { limit: 10, prefix: 'j' }, at).keys.map((k) => k.key),
    ['j'],
  )
})

test('hset merges or sets a field; lset edits lists; del removes; history keeps the writes', (t) => {
  const { store, reader, log } = open(t)
  store.apply(log.frame('d', [{ op: 'hset', key: 'cfg', value: { a: 1, n: { x: 1, y: 2 } } }]))
  store.apply(log.frame('d', [{ op: 'hset', key: 'cfg', value: { n: { y: null, z: 3 } } }]))
  store.apply(log.frame('d', [{ op: 'hset', key: 'cfg', field: 'b', value: [1] }]))
  t.deepEqual(reader.get('d', 'cfg', T0)?.value, { a: 1, n: { x: 1, z: 3 }, b: [1] })
  store.apply(log.frame('d', [{ op: 'lset', key: 'q', action: 'push', value: 2 }]))
  store.apply(log.frame('d', [{ op: 'lset', key: 'q', action: 'unshift', value: 1 }]))
  store.apply(log.frame('d', [{ op: 'lset', key: 'q', action: 'push', value: 3 }]))
  store.apply(log.frame('d', [{ op: 'lset', key: 'q', action: 'set', index: -1, value: 'three' }]))
  store.apply(log.frame('d', [{ op: 'lset', key: 'q', action: 'remove', index: 0 }]))
  t.deepEqual(reader.get('d', 'q', T0)?.value, [2, 'three'])
  store.apply(log.frame('d', [{ op: 'lset', key: 'q', action: 'pop' }]))
  store.apply(log.frame('d', [{ op: 'lset', key: 'q', action: 'shift' }]))
  t.deepEqual(reader.get('d', 'q', T0)?.value, [])
  store.apply(log.frame('d', [{ op: 'del', key: 'cfg' }]))
  t.is(reader.get('d', 'cfg', T0), undefined)
  const h = reader.history('d', 'cfg', { limit: 10 })
  t.deepEqual(
    h.map((e) => e.op),
    ['del', 'hset', 'hset', 'hset'],
  )
  t.deepEqual(h[1]?.value, { a: 1, n: { x: 1, z: 3 }, b: [1] })
})

test('TTL: invisible once the read clock passes rts + ttl; an expired key counts as absent; the sweep removes it', (t) => {
  const { store, reader, log } = open(t, { sweepIntervalMs: 0 })
  store.apply(log.frame('d', [{ op: 'set', key: 'k', value: { type: 'int', value: 1n }, ttlMs: 10_000 }], T0))
  t.like(reader.get('d', 'k', T0 + 9_999), { expiresAt: T0 + 10_000 })
  t.is(reader.get('d', 'k', T0 + 10_000), undefined)
  t.deepEqual(reader.keys('d', { limit: 10 }, T0 + 10_000).keys, [])
  // hset/lset keep the TTL, set without TTL clears it.
  store.apply(log.frame('d', [{ op: 'lset', key: 'l', action: 'push', value: 1, ttlMs: 5000 }], T0))
  store.apply(log.frame('d', [{ op: 'lset', key: 'l', action: 'push', value: 2 }], T0 + 1000))
  t.is(reader.get('d', 'l', T0 + 2000)?.expiresAt, T0 + 5000)
  // A write after expiry (log clock) sees no key: rev 0 matches, the sweep deletes k's row.
  const r = store.apply(
    log.frame('d', [{ op: 'set', key: 'fresh', value: { type: 'bool', value: true }, rev: 0 }], T0 + 20_000),
  )
  t.is(r.committed, 1)
  t.true(r.swept >= 2)
  t.is(store.db.prepare("SELECT count(*) AS n FROM kv WHERE key = 'k' AND slot = -1").get()!.n, 0)
  store.apply(
    log.frame('d', [{ op: 'set', key: 'k', value: { type: 'int', value: 2n }, rev: 0 }], T0 + 20_001),
  )
  t.like(reader.get('d', 'k', T0 + 20_002), { value: 2n, created: 5 })
})

test('a transaction applies whole or not at all; a failed expected revision rejects all of it', (t) => {
  const { store, reader, log } = open(t)
  store.apply(log.frame('d', [{ op: 'set', key: 'a', value: { type: 'int', value: 1n } }]))
  const ok = log.frame('d', [
    { op: 'set', key: 'a', value: { type: 'int', value: 2n }, rev: 1 },
    { op: 'set', key: 'b', value: { type: 'string', value: 'x' }, rev: 0 },
  ])
  t.like(store.apply(ok), { committed: 1, rejected: 0 })
  const bad = log.frame('d', [
    { op: 'set', key: 'c', value: { type: 'string', value: 'never' } },
    { op: 'del', key: 'b' },
    { op: 'set', key: 'a', value: { type: 'int', value: 3n }, rev: 1 }, // a is at 2 now
  ])
  t.like(store.apply(bad), { committed: 0, rejected: 1 })
  t.is(reader.get('d', 'c', T0), undefined)
  t.like(reader.get('d', 'b', T0), { value: 'x', revision: 3 })
  t.like(reader.get('d', 'a', T0), { value: 2n, revision: 2 })
  const o = reader.outcome({ lsn: 5 })
  t.like(o, { lsn: 4, lastLsn: 6, ok: false, code: 'MI_ERR_KV_REVISION_MISMATCH', index: 2, ops: 3 })
  t.like(reader.outcome({ module: 'dev-1', seq: '2' }), { ok: true, lsn: 2, lastLsn: 3 })
  t.deepEqual(reader.history('d', 'c', { limit: 5 }), [], 'a rejected transaction leaves no history')
})

test('a transaction split across deliveries waits in pending; redelivery is a no-op', (t) => {
  const { store, reader, log } = open(t)
  const recs = log.frame('d', [
    { op: 'set', key: 'x', value: { type: 'string', value: '1' } },
    { op: 'set', key: 'y', value: { type: 'string', value: '2' } },
    { op: 'set', key: 'z', value: { type: 'string', value: '3' } },
  ])
  t.like(store.apply(recs.slice(0, 2)), { committed: 0, appliedLsn: 2 })
  t.is(reader.get('d', 'x', T0), undefined, 'nothing visible before the whole transaction arrived')
  t.like(store.apply(recs), { committed: 1, skipped: 2 })
  t.deepEqual(
    reader.keys('d', { limit: 10 }, T0).keys.map((k) => [k.key, k.revision]),
    [
      ['x', 1],
      ['y', 2],
      ['z', 3],
    ],
  )
  t.like(store.apply(recs), { committed: 0, skipped: 3 })
  // Held through several deliveries, completed by one that also starts the next transaction.
  const ops = (n: number, k: string) =>
    Array.from({ length: n }, (_, i) => ({
      op: 'set' as const,
      key: `${k}${i}`,
      value: { type: 'int' as const, value: 1n },
    }))
  const a = log.frame('d', ops(4, 'a'))
  const b = log.frame('d', ops(3, 'b'))
  t.like(store.apply(a.slice(0, 1)), { committed: 0 })
  t.like(store.apply(a.slice(1, 3)), { committed: 0 })
  t.like(store.apply([...a.slice(3), ...b.slice(0, 2)]), { committed: 1 })
  t.is(reader.get('d', 'a3', T0)?.revision, 7)
  t.is(reader.get('d', 'b0', T0), undefined)
  t.like(store.apply(b.slice(2)), { committed: 1 })
  t.is(reader.get('d', 'b2', T0)?.revision, 10)
  t.deepEqual(store.dump().pending, [])
})

test('bad input is recorded as rejected and never stops the materializer', (t) => {
  const { store, reader, log } = open(t, { maxValueBytes: 100 })
  const cases: Array<[Uint8Array, string]> = [
    [Buffer.from('not msgpack at all \xc1'), 'MI_ERR_KV_OP_INVALID'],
    [packr.pack({ op: 'incr', key: 'k' }), 'MI_ERR_KV_OP_INVALID'],
    [packr.pack({ op: 'set', key: 'k', type: 'int', value: 'twelve' }), 'MI_ERR_KV_WRONG_TYPE'],
    [packr.pack({ op: 'set', key: 'k', type: 'string', value: 'v', ttlMs: -5 }), 'MI_ERR_KV_TTL_INVALID'],
    [
      packr.pack({ op: 'set', key: 'k', type: 'string', value: 'x'.repeat(101) }),
      'MI_ERR_KV_VALUE_TOO_LARGE',
    ],
    [packr.pack({ op: 'set', key: '', type: 'string', value: 'v' }), 'MI_ERR_KV_OP_INVALID'],
    [packr.pack({ op: 'set', key: 'k', type: 'list', value: '{"a":1}' }), 'MI_ERR_KV_WRONG_TYPE'],
    [packr.pack({ op: 'lset', key: 'k', action: 'push', value: 'not json' }), 'MI_ERR_KV_OP_INVALID'],
  ]
  for (const [body] of cases) store.apply(log.raw('kv.d', body))
  store.apply(log.frame('d', [{ op: 'set', key: 's', value: { type: 'string', value: 'v' } }]))
  // Wrong type for LSET / HSET against an existing string.
  store.apply(log.frame('d', [{ op: 'lset', key: 's', action: 'push', value: 1 }]))
  store.apply(log.frame('d', [{ op: 'hset', key: 's', value: { a: 1 } }]))
  store.apply(log.frame('d', [{ op: 'lset', key: 'nolist', action: 'pop' }]))
  // hset growing past the limit.
  store.apply(log.frame('d', [{ op: 'hset', key: 'h', field: 'a', value: 'x'.repeat(50) }]))
  store.apply(log.frame('d', [{ op: 'hset', key: 'h', field: 'b', value: 'x'.repeat(50) }]))
  for (const [i, [, code]] of cases.entries())
    t.like(reader.outcome({ lsn: i + 1 }), { ok: false, code }, `case ${i}`)
  const n = cases.length
  t.like(reader.outcome({ lsn: n + 2 }), { ok: false, code: 'MI_ERR_KV_WRONG_TYPE' })
  t.like(reader.outcome({ lsn: n + 3 }), { ok: false, code: 'MI_ERR_KV_WRONG_TYPE' })
  t.like(reader.outcome({ lsn: n + 4 }), { ok: false, code: 'MI_ERR_KV_WRONG_TYPE' })
  t.like(reader.outcome({ lsn: n + 5 }), { ok: true })
  t.like(reader.outcome({ lsn: n + 6 }), { ok: false, code: 'MI_ERR_KV_VALUE_TOO_LARGE' })
  t.like(reader.get('d', 's', T0), { value: 'v' })
  t.is(reader.appliedLsn(), n + 6)
  // A transaction whose ops disagree about its size (hand-made) is rejected as incomplete.
  log.seq++
  const lsn = log.lsn
  const mk = (i: number, txn: number) => ({
    lsn: lsn + 1 + i,
    stream: 'kv.d',
    module: 'dev-1',
    core: '',
    seq: log.seq,
    rts: T0 * 1000,
    body: packr.pack({ op: 'set', key: `t${i}`, type: 'bool', value: true, txn }),
  })
  store.apply([mk(0, 3), mk(1, 3)])
  log.lsn += 2
  store.apply(log.frame('d', [{ op: 'del', key: 's' }]))
  t.like(reader.outcome({ lsn: lsn + 1 }), { ok: false, code: 'MI_ERR_KV_TXN_INCOMPLETE' })
  t.is(reader.get('d', 't0', T0), undefined)
})

test('records of other streams advance the applied lsn and are otherwise ignored', (t) => {
  const { store, reader } = open(t)
  const r = store.apply([
    {
      lsn: 1,
      stream: 'telemetry.x',
      module: 'm',
      core: '',
      seq: 1n,
      rts: T0 * 1000,
      body: new Uint8Array(3),
    },
  ])
  t.like(r, { committed: 0, rejected: 0, appliedLsn: 1 })
  t.is(reader.appliedLsn(), 1)
  const log = new LogSim()
  log.lsn = 1
  store.apply(log.frame('d', [{ op: 'set', key: 'k', value: { type: 'bool', value: true } }]))
  store.apply([
    {
      lsn: 3,
      stream: 'telemetry.x',
      module: 'm',
      core: '',
      seq: 2n,
      rts: T0 * 1000,
      body: new Uint8Array(3),
    },
  ])
  t.like(reader.outcome({ lsn: 2 }), { lsn: 2, ok: true })
  t.is(reader.outcome({ lsn: 3 }), undefined, 'not a kv write: no outcome (the one before it ends at 2)')
  t.is(reader.outcome({ lsn: 1 }), undefined)
})

test('a snapshot (VACUUM INTO) of a live store, reopened and fed the log from its applied lsn, equals the live store', (t) => {
  const { store, reader, log, path } = open(t)
  for (let i = 0; i < 20; i++)
    store.apply(
      log.frame('d', [{ op: 'set', key: `k${i % 7}`, value: { type: 'int', value: BigInt(i) } }], T0 + i),
    )
  const snapPath = join(path, '..', 'snap.sqlite')
  const at = reader.snapshot(snapPath)
  t.is(at, 20)
  for (let i = 20; i < 30; i++)
    store.apply(log.frame('d', [{ op: 'lset', key: `l${i % 3}`, action: 'push', value: i }], T0 + i))
  const snap = new KvStore(snapPath)
  t.teardown(() => snap.close())
  t.is(snap.appliedLsn(), 20)
  snap.apply(log.records.filter((r) => r.lsn > at - 5)) // replay overlaps: redelivery is skipped
  t.deepEqual(snap.dump(T0 + 100), store.dump(T0 + 100))
})

test('outcomes: a producer’s run of single writes is one row, found by lsn and by seq, across deliveries', (t) => {
  const { store, reader, log } = open(t)
  const set = (key: string) => [{ op: 'set' as const, key, value: { type: 'int' as const, value: 1n } }]
  // dev-1 seqs 1..3 (lsn 1..3), then dev-2 (lsn 4), then dev-1 seq 5 (lsn 5) in a later delivery.
  store.apply([...log.frame('d', set('a')), ...log.frame('d', set('b'))])
  store.apply(log.frame('d', set('c')))
  store.apply(log.frame('d', set('x'), T0, 'dev-2'))
  store.apply(log.frame('d', set('e')))
  const rows = store.dump().outcomes as Array<{ lsn: number; last_lsn: number }>
  t.deepEqual(
    rows.map((r) => [r.lsn, r.last_lsn]),
    [
      [1, 3],
      [4, 4],
      [5, 5],
    ],
    'the run grows across deliveries; another module ends it',
  )
  t.like(reader.outcome({ lsn: 2 }), { lsn: 2, lastLsn: 2, seq: '2', module: 'dev-1', ops: 1, ok: true })
  t.like(reader.outcome({ module: 'dev-1', seq: '3' }), { lsn: 3, lastLsn: 3, seq: '3', ok: true })
  t.like(reader.outcome({ module: 'dev-2', seq: '4' }), { lsn: 4, seq: '4' })
  t.is(reader.outcome({ module: 'dev-1', seq: '4' }), undefined, 'dev-1 never sent seq 4')
  t.like(reader.outcome({ module: 'dev-1', seq: '5' }), { lsn: 5, seq: '5' })
  t.is(reader.outcome({ module: 'dev-1', seq: '6' }), undefined)
  // A seq past SQLite's signed 64 bits is kept exactly (as text), never in a run.
  log.seq = 2n ** 64n - 3n
  store.apply([...log.frame('d', set('f')), ...log.frame('d', set('g'))])
  t.like(reader.outcome({ module: 'dev-1', seq: String(2n ** 64n - 1n) }), { lsn: 7, ok: true })
  t.like(reader.outcome({ lsn: 6 }), { lsn: 6, lastLsn: 6, seq: String(2n ** 64n - 2n) })
})
