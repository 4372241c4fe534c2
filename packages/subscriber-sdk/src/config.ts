import type { StandardSchemaV1 } from '@standard-schema/spec'
import { MI_ERR_PLUGIN_CONFIG_INVALID } from './errors.ts'
import type { Subscriber } from './types.ts'

export interface ConfigIssue {
  /** Dotted path into the options, e.g. `window.size` or `streams[2]`; '' for the root. */
  path: string
  message: string
}

function pathOf(issue: StandardSchemaV1.Issue): string {
  let out = ''
  for (const seg of issue.path ?? []) {
    const key = typeof seg === 'object' && seg !== null ? seg.key : seg
    if (typeof key === 'number') out += `[${key}]`
    else out += out === '' ? String(key) : `.${String(key)}`
  }
  return out
}

/**
 * Run the subscriber's `configSchema` over the raw options from the server config and return its
 * output. Without a schema the raw options are returned as they are (`{}` for undefined).
 * Throws MI_ERR_PLUGIN_CONFIG_INVALID; the error's `issues` lists `{ path, message }`.
 */
export async function validateSubscriberConfig<C>(sub: Subscriber<C>, rawConfig: unknown): Promise<C> {
  const schema = sub.configSchema
  if (schema === undefined) return (rawConfig ?? {}) as C
  const result = await schema['~standard'].validate(rawConfig)
  if (result.issues === undefined) return result.value
  const issues: ConfigIssue[] = result.issues.map((i) => ({ path: pathOf(i), message: i.message }))
  const text = issues.map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`)).join('; ')
  const err = new MI_ERR_PLUGIN_CONFIG_INVALID(sub.name, text)
  Object.defineProperty(err, 'issues', { value: issues, enumerable: true })
  throw err
}
