/**
 * A subscriber that does nothing with its records, once the file `options.gate` exists: the s3
 * scenario's measure of the runtime's own delivery rate (read from the log, hand to a worker
 * thread, commit the offset) on the same backlog, the ceiling any subscriber's catch-up has.
 * Until the gate exists every batch waits, so a backlog builds up as during an outage.
 * Loaded by `use: file://…`; the SDK by path (the harness does not depend on it).
 */
import { existsSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { defineSubscriber } from '../../../packages/subscriber-sdk/src/index.ts'

export default defineSubscriber<{ gate: string }>({
  name: 'gated-noop',
  version: '0.1.0',
  async handle(_batch, ctx) {
    while (!existsSync(ctx.config.gate) && !ctx.signal.aborted) await sleep(50)
  },
})
