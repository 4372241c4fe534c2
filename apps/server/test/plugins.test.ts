// The built-in subscriber names live in the app (issue 13 item 4): the table resolves from here,
// and no package but the apps depends on a built-in subscriber.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { builtinPlugins, kBuiltinPlugins } from '../src/plugins.ts'

const root = fileURLToPath(new URL('../../../', import.meta.url))

test('built-in names resolve to the bundled plugins, from the app', (t) => {
  const plugins = builtinPlugins()
  t.deepEqual(Object.keys(plugins).sort(), Object.keys(kBuiltinPlugins).sort())
  t.regex(plugins.disk!, /^file:.*subscriber-disk\/src\/index\.ts$/)
  t.regex(plugins.nats!, /^file:.*subscriber-nats\/src\/index\.ts$/)
})

test('no package depends on a built-in subscriber (only apps and tools may)', (t) => {
  const builtins = new Set(Object.values(kBuiltinPlugins))
  for (const dir of readdirSync(join(root, 'packages'))) {
    let pkg: { name?: string; dependencies?: Record<string, string> }
    try {
      pkg = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'))
    } catch {
      continue
    }
    const uses = Object.keys(pkg.dependencies ?? {}).filter((d) => builtins.has(d) && d !== pkg.name)
    t.deepEqual(uses, [], `${pkg.name} depends on ${uses.join(', ')}`)
  }
})
