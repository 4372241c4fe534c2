// examples/ai-*.yaml load as the server loads them, and their `ai` options pass this package's
// schema (tools/doc-checks validates the other built-ins' options the same way).
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { loadConfig } from '@module-ingest/config'
import { validateSubscriberConfig } from '@module-ingest/subscriber-sdk'
import test from 'ava'
import ai from '../src/index.ts'

const dir = fileURLToPath(new URL('../../../examples/', import.meta.url))
const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f))

test('every `use: ai` subscriber in examples/ passes the schema, and there is one', async (t) => {
  let seen = 0
  for (const file of files) {
    const config = loadConfig({ file: `${dir}${file}`, env: {} })
    for (const sub of config.subscribers.filter(
      (s) => s.use === 'ai' || s.use === '@module-ingest/subscriber-ai',
    )) {
      seen++
      await t.notThrowsAsync(validateSubscriberConfig(ai, sub.options), `${file}: subscriber ${sub.name}`)
    }
  }
  t.true(seen >= 2)
})
