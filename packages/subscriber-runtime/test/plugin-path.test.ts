// A third-party plugin installed in a plugin directory (`npm i --prefix <dir> <pkg>`), outside the
// checkout: resolved through `pluginPaths` / MI_PLUGIN_PATH, and run.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { pluginPathsFromEnv } from '../src/index.ts'
import { resolvePluginSpecifier } from '../src/internal.ts'
import { readLines, startOn, tempDir, waitFor, writeRecords } from './fixtures/_harness.ts'

const SDK = new URL('../../subscriber-sdk/src/index.ts', import.meta.url).href
const KIT = new URL('./fixtures/_plugin-kit.ts', import.meta.url).href

/** What `npm i --prefix <dir> @acme/mi-echo` leaves behind: plain JS in <dir>/node_modules. */
function installPlugin(dir: string): void {
  const pkg = join(dir, 'node_modules', '@acme', 'mi-echo')
  mkdirSync(pkg, { recursive: true })
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({ name: '@acme/mi-echo', type: 'module', exports: './index.js' }),
  )
  writeFileSync(
    join(pkg, 'index.js'),
    `import { defineSubscriber } from '${SDK}'
import { fileSchema, recordToFile } from '${KIT}'
export default defineSubscriber({ name: 'acme-echo', configSchema: fileSchema(), async handle(batch, ctx) { await recordToFile(batch, ctx) } })
`,
  )
}

test('pluginPaths: an npm-named plugin in a plugin directory resolves and runs', async (t) => {
  const dir = tempDir(t)
  const plugins = join(dir, 'plugins')
  installPlugin(plugins)
  const elsewhere = join(dir, 'cwd')
  mkdirSync(elsewhere)
  t.throws(() => resolvePluginSpecifier('@acme/mi-echo', elsewhere, {}, []), {
    code: 'MI_ERR_PLUGIN_NOT_FOUND',
  })
  t.is(
    fileURLToPath(resolvePluginSpecifier('@acme/mi-echo', elsewhere, {}, [plugins])),
    join(plugins, 'node_modules', '@acme', 'mi-echo', 'index.js'),
  )

  const logDir = join(dir, 'log')
  const last = await writeRecords(logDir, 10)
  const out = join(dir, 'out.txt')
  const rt = await startOn(
    t,
    logDir,
    [
      {
        name: 'echo',
        use: '@acme/mi-echo',
        options: { out },
        batch: { maxRecords: 100, maxBytes: 1 << 20, maxWaitMs: 5 },
      },
    ],
    { baseDir: elsewhere, pluginPaths: [plugins] },
  )
  await waitFor('delivered', () => readLines(out).length >= last)
  await rt.close()
  t.is(readLines(out).length, last)
})

test('MI_PLUGIN_PATH: PATH-style list', (t) => {
  t.deepEqual(pluginPathsFromEnv({ MI_PLUGIN_PATH: '/opt/a::/opt/b' }), ['/opt/a', '/opt/b'])
  t.deepEqual(pluginPathsFromEnv({}), [])
})
