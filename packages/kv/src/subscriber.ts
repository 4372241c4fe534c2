import { resolve } from 'node:path'
import { defineSubscriber } from '@module-ingest/subscriber-sdk'
import { type KvConfig, kvConfigSchema } from './config.ts'
import { MI_ERR_KV_NOT_OPEN } from './errors.ts'
import { KvStore } from './store.ts'

// Module scope is per worker thread; instances are keyed by their (unique) instance name.
const stores = new Map<string, KvStore>()

/**
 * The built-in `kv` subscriber: materializes `kv.<namespace>` records into the SQLite store.
 * Run it with `streams: ['kv.*']` and concurrency 1 (transactions and expected revisions need the
 * log's total order).
 */
export const kvSubscriber = defineSubscriber<KvConfig>({
  name: 'kv',
  version: '0.1.0',
  configSchema: kvConfigSchema,
  // One SQLite commit per delivery: larger deliveries are cheaper per set, most at many keys, where
  // each random set dirties a B-tree leaf of its own, written to the WAL at commit and back by the
  // checkpoint, and a larger delivery lands on more of the same leaves (1M uniformly random keys:
  // ~13.5 µs of CPU per set in deliveries of 20,000, ~12 in 50,000; docs/kv.md). 8 MiB so the
  // bytes limit does not cut them first. The runtime fills a delivery only while the store is
  // behind; a delivery of 50,000 is ~0.6 s of one core at 1M keys.
  batch: { maxRecords: 50_000, maxBytes: 8 << 20 },
  init(ctx) {
    const c = ctx.config
    const store = new KvStore(resolve(c.path), c)
    stores.set(ctx.name, store)
    ctx.logger.info({ path: store.path, appliedLsn: store.appliedLsn() }, 'KvStoreOpened')
  },
  handle(batch, ctx) {
    const store = stores.get(ctx.name)
    if (!store) throw new MI_ERR_KV_NOT_OPEN(ctx.name)
    const r = store.apply(batch)
    ctx.metrics.counter('txns_committed_total').inc(r.committed)
    if (r.rejected > 0) ctx.metrics.counter('txns_rejected_total').inc(r.rejected)
    if (r.skipped > 0) ctx.metrics.counter('records_skipped_total').inc(r.skipped)
    if (r.swept > 0) ctx.metrics.counter('keys_expired_total').inc(r.swept)
    ctx.metrics.gauge('applied_lsn').set(r.appliedLsn)
  },
  close(ctx) {
    stores.get(ctx.name)?.close()
    stores.delete(ctx.name)
  },
})
