import { join } from 'node:path'
import { encodeOp } from '@module-ingest/kv-protocol'
import { createTestHarness } from '@module-ingest/subscriber-sdk/testkit'
import test from 'ava'
import { KvReader } from '../src/read.ts'
import { kvSubscriber as sub } from '../src/subscriber.ts'
import { tempDir } from './_helpers.ts'

test('the kv subscriber applies deliveries, skips redeliveries and counts outcomes', async (t) => {
  const path = join(tempDir(t), 'kv.sqlite')
  const h = createTestHarness(sub, { config: { path } })
  await h.init()
  const set = (key: string, v: string) => encodeOp({ op: 'set', key, value: { type: 'string', value: v } })
  await h.deliver([
    { stream: 'kv.dev', body: set('a', '1') },
    { stream: 'kv.dev', body: encodeOp({ op: 'del', key: 'zz', rev: 5 }) },
  ])
  await h.redeliver() // at least once: the same lsns again change nothing
  await h.deliver([{ stream: 'kv.dev', body: set('b', '2') }])
  const r = new KvReader(path)
  t.like(r.get('dev', 'a'), { value: '1', revision: 1 })
  t.like(r.get('dev', 'b'), { value: '2', revision: 3 })
  t.is(r.appliedLsn(), 3)
  t.like(h.metrics.counters, { txns_committed_total: 2, txns_rejected_total: 1, records_skipped_total: 2 })
  r.close()
  await h.close()
  await t.throwsAsync(async () => sub.handle([], { name: 'x' } as never), { code: 'MI_ERR_KV_NOT_OPEN' })
})
