/**
 * Emits one fixed derived record (a string of the size of the `ai` subscriber's result) per input:
 * the emit path's cost (runtime encoding, host append, writer) without any plugin work.
 * Used by bench/emit-cpu.bench.ts.
 */
import { defineSubscriber } from '@module-ingest/subscriber-sdk'

const body = `{"lsn":1000000,"module":"pump-0","core":"","stream":"bench","ts":1760000000000000,"outputs":{"score":${'1'.repeat(40)}}}`

export default defineSubscriber({
  name: 'echo',
  version: '0.1.0',
  async handle(batch, ctx) {
    for (let i = 0; i < batch.length; i++) ctx.emit(`echo.${ctx.name}`, body)
  },
})
