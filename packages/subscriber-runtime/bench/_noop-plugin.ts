import { defineSubscriber } from '@module-ingest/subscriber-sdk'

export default defineSubscriber({
  name: 'noop-bench',
  handle(batch, ctx) {
    ctx.metrics.counter('records_total').inc(batch.length)
  },
})
