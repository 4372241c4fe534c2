/**
 * A subscriber that does nothing with its records: the benchmark's `ours+noop` row runs it in the
 * `ai` rows' place (same stream, batches and options) to show what the runtime's delivery alone
 * sustains, i.e. the ceiling for any plugin on this machine.
 */
import { defineSubscriber } from '@module-ingest/subscriber-sdk'

export default defineSubscriber({
  name: 'noop',
  version: '0.1.0',
  async handle() {},
})
