import {
  MI_ERR_PLUGIN_INVALID,
  MI_ERR_PLUGIN_NOT_SUBSCRIBER,
  MI_ERR_PLUGIN_VERSION_MISMATCH,
} from './errors.ts'
import { satisfies } from './semver.ts'
import { kSubscriber } from './symbols.ts'
import type { Subscriber, SubscriberDefinition, SubscriberMeta } from './types.ts'
import { SDK_VERSION, SUPPORTED_HOST_RANGE } from './version.ts'

const kMethods = ['init', 'handle', 'close'] as const
const kHooks = ['onReady', 'onClose', 'onError'] as const
const kKeys = new Set(['name', 'version', 'configSchema', 'nice', 'batch', 'rateLimit', ...kMethods, 'hooks'])
const kBatchKeys = ['maxRecords', 'maxBytes', 'maxWaitMs'] as const
const kRateKeys = ['bytesPerSec', 'burstBytes', 'when'] as const

/**
 * Check a subscriber definition and stamp it with metadata the host reads before loading it into
 * a worker. Returns a frozen copy: export it as the module's default export.
 */
export function defineSubscriber<C = unknown>(def: SubscriberDefinition<C>): Subscriber<C> {
  if (def === null || typeof def !== 'object') throw new MI_ERR_PLUGIN_INVALID('expected an object')
  if (typeof def.name !== 'string' || def.name.length === 0) {
    throw new MI_ERR_PLUGIN_INVALID('name must be a non-empty string')
  }
  const at = `subscriber ${def.name}`
  for (const key of Object.keys(def)) {
    if (!kKeys.has(key)) throw new MI_ERR_PLUGIN_INVALID(`${at}: unknown property ${key}`)
  }
  if (def.version !== undefined && typeof def.version !== 'string') {
    throw new MI_ERR_PLUGIN_INVALID(`${at}: version must be a string`)
  }
  if (def.nice !== undefined && (!Number.isInteger(def.nice) || def.nice < 0 || def.nice > 19)) {
    throw new MI_ERR_PLUGIN_INVALID(`${at}: nice must be an integer from 0 to 19`)
  }
  if (def.batch !== undefined) {
    if (def.batch === null || typeof def.batch !== 'object') {
      throw new MI_ERR_PLUGIN_INVALID(`${at}: batch must be an object`)
    }
    for (const [key, v] of Object.entries(def.batch)) {
      if (!(kBatchKeys as readonly string[]).includes(key)) {
        throw new MI_ERR_PLUGIN_INVALID(`${at}: unknown batch limit ${key} (known: ${kBatchKeys.join(', ')})`)
      }
      const min = key === 'maxWaitMs' ? 0 : 1
      if (v !== undefined && (!Number.isInteger(v) || (v as number) < min)) {
        throw new MI_ERR_PLUGIN_INVALID(`${at}: batch.${key} must be an integer ≥ ${min}`)
      }
    }
  }
  if (def.rateLimit !== undefined) {
    if (def.rateLimit === null || typeof def.rateLimit !== 'object') {
      throw new MI_ERR_PLUGIN_INVALID(`${at}: rateLimit must be an object`)
    }
    for (const [key, v] of Object.entries(def.rateLimit)) {
      if (!(kRateKeys as readonly string[]).includes(key)) {
        throw new MI_ERR_PLUGIN_INVALID(
          `${at}: unknown rateLimit field ${key} (known: ${kRateKeys.join(', ')})`,
        )
      }
      if (key === 'when') {
        if (v !== undefined && v !== 'ingesting' && v !== 'always')
          throw new MI_ERR_PLUGIN_INVALID(`${at}: rateLimit.when must be 'ingesting' or 'always'`)
        continue
      }
      const min = key === 'bytesPerSec' ? 0 : 1
      if (v !== undefined && (!Number.isInteger(v) || (v as number) < min)) {
        throw new MI_ERR_PLUGIN_INVALID(`${at}: rateLimit.${key} must be an integer ≥ ${min}`)
      }
    }
  }
  if (typeof def.handle !== 'function') throw new MI_ERR_PLUGIN_INVALID(`${at}: handle must be a function`)
  for (const m of kMethods) {
    if (def[m] !== undefined && typeof def[m] !== 'function') {
      throw new MI_ERR_PLUGIN_INVALID(`${at}: ${m} must be a function`)
    }
  }
  if (def.configSchema !== undefined) {
    const std = (def.configSchema as { '~standard'?: { version?: unknown; validate?: unknown } })['~standard']
    if (std === null || typeof std !== 'object' || std.version !== 1 || typeof std.validate !== 'function') {
      throw new MI_ERR_PLUGIN_INVALID(`${at}: configSchema must implement Standard Schema v1 (~standard)`)
    }
  }
  let hooks: SubscriberDefinition<C>['hooks']
  if (def.hooks !== undefined) {
    if (def.hooks === null || typeof def.hooks !== 'object') {
      throw new MI_ERR_PLUGIN_INVALID(`${at}: hooks must be an object`)
    }
    for (const key of Object.keys(def.hooks)) {
      if (!(kHooks as readonly string[]).includes(key)) {
        throw new MI_ERR_PLUGIN_INVALID(`${at}: unknown hook ${key} (known: ${kHooks.join(', ')})`)
      }
      if (typeof (def.hooks as Record<string, unknown>)[key] !== 'function') {
        throw new MI_ERR_PLUGIN_INVALID(`${at}: hooks.${key} must be a function`)
      }
    }
    hooks = Object.freeze({ ...def.hooks })
  }
  const meta: SubscriberMeta = Object.freeze({
    name: def.name,
    version: def.version,
    sdkVersion: SDK_VERSION,
    host: SUPPORTED_HOST_RANGE,
  })
  const sub = {
    ...def,
    ...(hooks ? { hooks } : {}),
    ...(def.batch ? { batch: Object.freeze({ ...def.batch }) } : {}),
    ...(def.rateLimit ? { rateLimit: Object.freeze({ ...def.rateLimit }) } : {}),
  }
  // Non-enumerable, like a brand: spreading a subscriber must not copy its identity.
  Object.defineProperty(sub, kSubscriber, { value: meta, enumerable: false })
  return Object.freeze(sub) as Subscriber<C>
}

/** True for objects `defineSubscriber` returned, from any copy of this package. */
export function isSubscriber(x: unknown): x is Subscriber<unknown> {
  if (x === null || typeof x !== 'object') return false
  const meta = (x as Record<symbol, unknown>)[kSubscriber] as Partial<SubscriberMeta> | undefined
  return (
    meta !== null &&
    typeof meta === 'object' &&
    typeof meta.name === 'string' &&
    typeof meta.host === 'string' &&
    typeof (x as { handle?: unknown }).handle === 'function'
  )
}

export function getSubscriberMeta(sub: Subscriber<unknown>): SubscriberMeta {
  return sub[kSubscriber]
}

/**
 * Pick the subscriber out of an imported plugin module (`await import(specifier)`): its default
 * export, also when a CommonJS build nests it one level deeper (`module.exports = { default }`).
 */
export function subscriberFromModule(mod: unknown, specifier: string): Subscriber<unknown> {
  let candidate = (mod as { default?: unknown } | null)?.default
  if (!isSubscriber(candidate)) candidate = (candidate as { default?: unknown } | null)?.default
  if (!isSubscriber(candidate)) throw new MI_ERR_PLUGIN_NOT_SUBSCRIBER(specifier)
  return candidate
}

/**
 * Throw MI_ERR_PLUGIN_VERSION_MISMATCH unless `hostVersion` satisfies the range the subscriber's
 * SDK was stamped with. The host calls this at registration, before a worker starts.
 */
export function assertHostCompatible(sub: Subscriber<unknown>, hostVersion: string): void {
  const meta = sub[kSubscriber]
  if (!satisfies(hostVersion, meta.host)) {
    throw new MI_ERR_PLUGIN_VERSION_MISMATCH(meta.name, meta.host, hostVersion)
  }
}
