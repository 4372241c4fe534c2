import { resolve } from 'node:path'
import { defineSubscriber } from '@module-ingest/subscriber-sdk'
import { type IndexConfig, indexConfigSchema } from './config.ts'
import { MI_ERR_INDEX_NOT_OPEN } from './errors.ts'
import { oldestLogLsn } from './log-source.ts'
import { IndexWriter } from './writer.ts'

interface Instance {
  writer: IndexWriter
  logDir: string | undefined
  nextRetentionCheck: number
}

// Module scope is per worker thread; instances are keyed by their (unique) instance name.
const instances = new Map<string, Instance>()

/** The built-in `index` subscriber: see the package README. */
export const indexSubscriber = defineSubscriber<IndexConfig>({
  name: 'index',
  version: '0.1.0',
  configSchema: indexConfigSchema,
  init(ctx) {
    const c = ctx.config
    const writer = new IndexWriter(resolve(c.path), c)
    instances.set(ctx.name, {
      writer,
      logDir: c.logDir === undefined ? undefined : resolve(c.logDir),
      nextRetentionCheck: 0,
    })
    ctx.logger.info({ path: resolve(c.path), appliedLsn: writer.appliedLsn() }, 'IndexOpened')
  },
  handle(batch, ctx) {
    const inst = instances.get(ctx.name)
    if (!inst) throw new MI_ERR_INDEX_NOT_OPEN(ctx.name)
    const r = inst.writer.apply(batch)
    ctx.metrics.counter('records_indexed_total').inc(r.applied)
    ctx.metrics.counter('points_indexed_total').inc(r.points)
    if (r.skipped > 0) ctx.metrics.counter('duplicates_skipped_total').inc(r.skipped)
    const last = batch.at(-1)
    if (last) ctx.metrics.gauge('applied_lsn').set(last.lsn)
    if (inst.logDir !== undefined && Date.now() >= inst.nextRetentionCheck) {
      inst.nextRetentionCheck = Date.now() + ctx.config.retentionCheckMs
      const dropped = inst.writer.prune(oldestLogLsn(inst.logDir))
      if (dropped > 0) {
        ctx.metrics.counter('records_pruned_total').inc(dropped)
        ctx.logger.info({ dropped }, 'IndexRetentionApplied')
      }
    }
  },
  close(ctx) {
    instances.get(ctx.name)?.writer.close()
    instances.delete(ctx.name)
  },
})
