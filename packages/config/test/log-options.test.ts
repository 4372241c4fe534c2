// Issue 13 item 3: the log's options have one table (packages/log/src/options.ts); the server's
// `log.*` schema is derived from it. A value the config accepts is one the writer accepts, with the
// same default, and `config.log` can be passed to openLog whole.

import { kLogOptionTable, kRetentionOptionTable } from '@module-ingest/log/options'
import test from 'ava'
import { defaultConfig, loadConfig } from '../src/index.ts'

const load = (flags: Record<string, unknown>) => loadConfig({ env: {}, flags, cwd: '/srv/mi' })

test('every option of the log table is in the config, with the table default', (t) => {
  const c = defaultConfig('/srv/mi')
  for (const [k, spec] of Object.entries(kLogOptionTable)) {
    t.true(k in c.log, `log.${k} is configurable`)
    t.is((c.log as Record<string, unknown>)[k], spec.default, `log.${k} default`)
  }
  for (const [k, spec] of Object.entries(kRetentionOptionTable))
    t.is((c.log.retention as Record<string, unknown>)[k], spec.default, `log.retention.${k} default`)
})

test('the config enforces the table bounds (the values that used to fail only inside the writer)', (t) => {
  for (const [k, spec] of Object.entries(kLogOptionTable)) {
    if (spec.kind !== 'int') continue
    t.is((load({ [`log.${k}`]: spec.min }).log as Record<string, unknown>)[k], spec.min, `log.${k} = min`)
    if (spec.min > 0) t.throws(() => load({ [`log.${k}`]: spec.min - 1 }), undefined, `log.${k} < min`)
    if (spec.max < Number.MAX_SAFE_INTEGER)
      t.throws(() => load({ [`log.${k}`]: spec.max + 1 }), undefined, `log.${k} > max`)
  }
  // The three disagreements issue 13 names:
  t.throws(() => load({ 'log.groupCommitMaxBytes': 1 }))
  t.throws(() => load({ 'log.segmentSizeBytes': 1 }))
  t.is(defaultConfig('/srv/mi').log.flushIntervalMs, kLogOptionTable.flushIntervalMs.default as number)
})
