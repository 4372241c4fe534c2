import { createRequire } from 'node:module'
import { delimiter, isAbsolute, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import {
  assertHostCompatible,
  type Subscriber,
  subscriberFromModule,
  validateSubscriberConfig,
} from '@module-ingest/subscriber-sdk'
import { MI_ERR_PLUGIN_NOT_FOUND } from './errors.ts'

/** The host version plugins are checked against (the SDK's `host` semver range). */
export const HOST_VERSION = '0.1.0'

/**
 * Short names the host registers for `use` (its built-in subscribers), each mapped to a specifier:
 * a file: URL the host resolved itself, or a package name. The runtime knows no plugin by name.
 */
export type PluginRegistry = Readonly<Record<string, string>>

/**
 * Turn `use` into an importable specifier:
 * - a name in `plugins` → its registered specifier (a file: URL is used as is);
 * - a path ('./x.ts', '/abs/x.js') or file: URL → a file URL, relative paths against `baseDir`;
 * - anything else is an npm package name, resolved from `baseDir` first (the app's own
 *   node_modules, where users install plugins), then from this package.
 */
export function resolvePluginSpecifier(
  use: string,
  baseDir: string,
  plugins: PluginRegistry = {},
  pluginPaths: readonly string[] = pluginPathsFromEnv(),
): string {
  const registered = Object.hasOwn(plugins, use) ? plugins[use] : undefined
  if (registered?.startsWith('file:')) return registered
  if (use.startsWith('file:')) return use
  if (use.startsWith('.') || isAbsolute(use)) return pathToFileURL(resolve(baseDir, use)).href
  const pkg = registered ?? use
  const errors: string[] = []
  // The app's own node_modules, then each plugin directory (`npm i --prefix <dir> <plugin>` puts a
  // plugin in <dir>/node_modules: installed next to a server, not inside its checkout).
  for (const dir of [baseDir, ...pluginPaths]) {
    try {
      return pathToFileURL(createRequire(join(resolve(baseDir, dir), 'noop.js')).resolve(pkg)).href
    } catch (err) {
      errors.push((err as Error).message.split('\n')[0]!)
    }
  }
  try {
    return import.meta.resolve(pkg)
  } catch (err) {
    errors.push((err as Error).message.split('\n')[0]!)
  }
  throw new MI_ERR_PLUGIN_NOT_FOUND(use, errors.join('; '))
}

/**
 * Plugin directories from `MI_PLUGIN_PATH` (separated like PATH: `:` on POSIX). Every host that
 * loads plugins (server, queue-worker, `check`) honours it; `pluginPaths` options add to it.
 */
export function pluginPathsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.MI_PLUGIN_PATH ?? '').split(delimiter).filter(Boolean)
}

export interface CheckedPlugin {
  specifier: string
  subscriber: Subscriber<unknown>
  config: unknown
}

/**
 * Registration-time checks on the main thread, before any worker starts: the module loads, its
 * default export is a subscriber, the host version satisfies its range, its options validate.
 * Throws MI_ERR_PLUGIN_NOT_FOUND or the SDK's MI_ERR_PLUGIN_* errors.
 */
export async function checkPlugin(
  use: string,
  options: unknown,
  baseDir: string,
  plugins: PluginRegistry = {},
  pluginPaths?: readonly string[],
): Promise<CheckedPlugin> {
  const specifier = resolvePluginSpecifier(use, baseDir, plugins, [
    ...(pluginPaths ?? []),
    ...pluginPathsFromEnv(),
  ])
  let mod: unknown
  try {
    mod = await import(specifier)
  } catch (err) {
    throw new MI_ERR_PLUGIN_NOT_FOUND(use, (err as Error).message, { cause: err })
  }
  const subscriber = subscriberFromModule(mod, use)
  assertHostCompatible(subscriber, HOST_VERSION)
  const config = await validateSubscriberConfig(subscriber, options)
  return { specifier, subscriber, config }
}
