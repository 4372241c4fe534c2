import { defineSubscriber } from '@module-ingest/subscriber-sdk'

/**
 * The bench's subscriber: touches every record (as any real plugin would) and reports its own
 * thread's CPU since init as a counter, so the bench can split CPU per record into main thread
 * (read, batch, encode) and worker (decode, handle) without counting thread start-up.
 * Option `emit`: one derived record per input (exercises the emit path back to the host).
 * Option `delay`: histogram `delay_us`, from the batch's oldest record's receive time to handle().
 */
let last: NodeJS.CpuUsage | undefined
export default defineSubscriber<{ emit?: boolean; delay?: boolean }>({
  name: 'noop-bench',
  init() {
    last = process.threadCpuUsage()
  },
  handle(batch, ctx) {
    let bytes = 0
    for (const r of batch) bytes += r.body.byteLength + r.stream.length
    if (ctx.config?.delay) ctx.metrics.histogram('delay_us').record(Date.now() * 1000 - batch[0]!.rts)
    if (ctx.config?.emit) for (const r of batch) ctx.emit('derived.bench', `s:${r.lsn}`)
    const now = process.threadCpuUsage()
    if (last) ctx.metrics.counter('thread_cpu_us').inc(now.user + now.system - last.user - last.system)
    last = now
    ctx.metrics.counter('records_total').inc(batch.length)
    ctx.metrics.gauge('bytes_seen').set(bytes)
  },
})
