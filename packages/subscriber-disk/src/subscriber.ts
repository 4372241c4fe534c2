import { resolve } from 'node:path'
import { defineSubscriber } from '@module-ingest/subscriber-sdk'
import { type DiskConfig, diskConfigSchema } from './config.ts'
import { MI_ERR_DISK_NOT_OPEN } from './errors.ts'
import { ArchiveWriter } from './writer.ts'

// Module scope is per worker thread; instances are keyed by their (unique) instance name.
const writers = new Map<string, ArchiveWriter>()

/** The built-in `disk` subscriber: see the package README for the archive format. */
export const diskSubscriber = defineSubscriber<DiskConfig>({
  name: 'disk',
  version: '0.1.0',
  configSchema: diskConfigSchema,
  init(ctx) {
    const c = ctx.config
    const writer = new ArchiveWriter({ ...c, dir: resolve(c.dir) })
    const report = writer.open()
    writers.set(ctx.name, writer)
    ctx.metrics.counter('recovered_truncated_bytes_total').inc(report.truncatedBytes)
    const level = report.truncatedBytes > 0 ? 'warn' : 'info'
    ctx.logger[level]({ dir: resolve(c.dir), ...report }, 'DiskArchiveOpened')
  },
  handle(batch, ctx) {
    const writer = writers.get(ctx.name)
    if (!writer) throw new MI_ERR_DISK_NOT_OPEN(ctx.name)
    const r = writer.write(batch)
    ctx.metrics.counter('records_written_total').inc(r.written)
    ctx.metrics.counter('bytes_written_total').inc(r.bytes)
    if (r.skipped > 0) ctx.metrics.counter('duplicates_skipped_total').inc(r.skipped)
    if (r.fsyncs > 0) ctx.metrics.counter('fsyncs_total').inc(r.fsyncs)
  },
  close(ctx) {
    writers.get(ctx.name)?.close()
    writers.delete(ctx.name)
  },
})
