// Every config in examples/ must load as the server would load it, and every subscriber's options
// must pass that plugin's own schema: an example that no longer runs is a broken doc.
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { loadConfig } from '@module-ingest/config'
import disk from '@module-ingest/subscriber-disk'
import nats from '@module-ingest/subscriber-nats'
import s3 from '@module-ingest/subscriber-s3'
import { validateSubscriberConfig } from '@module-ingest/subscriber-sdk'
import test from 'ava'

const dir = fileURLToPath(new URL('../../../examples/', import.meta.url))
const builtIns: Record<string, Parameters<typeof validateSubscriberConfig>[0]> = { disk, nats, s3 }
const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f))

test('there are example configs', (t) => {
  t.true(files.length > 0)
})

for (const file of files) {
  test(`examples/${file} loads, and its subscribers' options pass their plugins' schemas`, async (t) => {
    const config = loadConfig({ file: `${dir}${file}`, env: {} })
    for (const sub of config.subscribers) {
      const plugin = builtIns[sub.use]
      if (!plugin) continue
      await t.notThrowsAsync(validateSubscriberConfig(plugin, sub.options), `${file}: subscriber ${sub.name}`)
    }
  })
}
