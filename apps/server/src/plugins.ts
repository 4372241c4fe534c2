import { resolve } from 'node:path'

/**
 * The built-in subscribers: the short names `subscribers[].use` accepts. This table is the only
 * place that knows them; the subscriber runtime resolves whatever it is handed.
 *
 * Adding a built-in: one line here, and the package in this app's package.json dependencies.
 */
export const kBuiltinPlugins: Readonly<Record<string, string>> = {
  disk: '@module-ingest/subscriber-disk',
  kv: '@module-ingest/kv',
  nats: '@module-ingest/subscriber-nats',
  s3: '@module-ingest/subscriber-s3',
  ai: '@module-ingest/subscriber-ai',
  index: '@module-ingest/subscriber-index',
}

/**
 * The enabled instances of a built-in (named short or by package) with the store file each keeps
 * (`options.path`, resolved): what a read API on the HTTP listener opens (kv, index).
 */
export function instancesOf(
  subscribers: ReadonlyArray<{ name: string; use: string; enabled?: boolean; options?: unknown }>,
  builtin: string,
): Array<{ name: string; path: string }> {
  return subscribers
    .filter((s) => (s.use === builtin || s.use === kBuiltinPlugins[builtin]) && s.enabled !== false)
    .map((s) => ({
      name: s.name,
      path: resolve(String((s.options as { path?: unknown } | undefined)?.path ?? '')),
    }))
}

/**
 * The registry handed to the runtime: each short name → the module URL resolved from this app, so
 * the runtime needs no dependency on any plugin. A package that does not resolve keeps its name,
 * and using it fails at startup with MI_ERR_PLUGIN_NOT_FOUND naming it.
 */
export function builtinPlugins(): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, pkg] of Object.entries(kBuiltinPlugins)) {
    try {
      out[name] = import.meta.resolve(pkg)
    } catch {
      out[name] = pkg
    }
  }
  return out
}
