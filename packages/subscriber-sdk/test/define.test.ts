import { readFileSync } from 'node:fs'
import test from 'ava'
import {
  assertHostCompatible,
  defineSubscriber,
  getSubscriberMeta,
  isSubscriber,
  type kSubscriber,
  MI_ERR_PLUGIN_INVALID,
  MI_ERR_PLUGIN_NOT_SUBSCRIBER,
  MI_ERR_PLUGIN_VERSION_MISMATCH,
  SDK_VERSION,
  SUPPORTED_HOST_RANGE,
  subscriberFromModule,
} from '../src/index.ts'

const handle = () => {}

test('stamps metadata under the global symbol and freezes the definition', (t) => {
  const sub = defineSubscriber({ name: 'echo', version: '1.2.3', handle })
  t.deepEqual(sub[Symbol.for('module-ingest.subscriber') as typeof kSubscriber], {
    name: 'echo',
    version: '1.2.3',
    sdkVersion: SDK_VERSION,
    host: SUPPORTED_HOST_RANGE,
  })
  t.is(getSubscriberMeta(sub).name, 'echo')
  t.true(Object.isFrozen(sub))
  t.is(sub.handle, handle)
  // The brand is not enumerable: a spread copy is not a subscriber.
  t.false(isSubscriber({ ...sub }))
  t.true(isSubscriber(sub))
})

test('SDK_VERSION follows package.json', (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  t.is(SDK_VERSION, pkg.version)
})

test('a subscriber stamped by another copy of the SDK is recognised', (t) => {
  const foreign = {
    name: 'x',
    handle,
    [Symbol.for('module-ingest.subscriber')]: { name: 'x', host: '^0.1', sdkVersion: '0.1.9' },
  }
  t.true(isSubscriber(foreign))
  t.false(isSubscriber({ name: 'x', handle }))
  t.false(isSubscriber(null))
  t.false(isSubscriber('x'))
})

test('rejects malformed definitions with MI_ERR_PLUGIN_INVALID', (t) => {
  const bad: [unknown, RegExp][] = [
    [null, /expected an object/],
    [{ handle }, /name must be a non-empty string/],
    [{ name: '', handle }, /name must be/],
    [{ name: 'a' }, /handle must be a function/],
    [{ name: 'a', handle, init: 1 }, /init must be a function/],
    [{ name: 'a', handle, close: 'x' }, /close must be a function/],
    [{ name: 'a', handle, version: 2 }, /version must be a string/],
    [{ name: 'a', handle, hadnle: handle }, /unknown property hadnle/],
    [{ name: 'a', handle, configSchema: {} }, /Standard Schema/],
    [{ name: 'a', handle, hooks: { onReddy() {} } }, /unknown hook onReddy/],
    [{ name: 'a', handle, hooks: { onReady: 1 } }, /hooks.onReady must be a function/],
    [{ name: 'a', handle, hooks: 1 }, /hooks must be an object/],
    [{ name: 'a', handle, nice: 20 }, /nice must be an integer from 0 to 19/],
    [{ name: 'a', handle, nice: -1 }, /nice must be an integer from 0 to 19/],
    [{ name: 'a', handle, batch: 5 }, /batch must be an object/],
    [{ name: 'a', handle, batch: { maxRecrods: 5 } }, /unknown batch limit maxRecrods/],
    [{ name: 'a', handle, batch: { maxRecords: 0 } }, /batch.maxRecords must be an integer ≥ 1/],
    [{ name: 'a', handle, batch: { maxWaitMs: -1 } }, /batch.maxWaitMs must be an integer ≥ 0/],
    [{ name: 'a', handle, rateLimit: 5 }, /rateLimit must be an object/],
    [{ name: 'a', handle, rateLimit: { bytesPerSecond: 5 } }, /unknown rateLimit field bytesPerSecond/],
    [{ name: 'a', handle, rateLimit: { bytesPerSec: -1 } }, /rateLimit.bytesPerSec must be an integer ≥ 0/],
    [{ name: 'a', handle, rateLimit: { burstBytes: 0 } }, /rateLimit.burstBytes must be an integer ≥ 1/],
    [{ name: 'a', handle, rateLimit: { when: 'idle' } }, /rateLimit.when must be 'ingesting' or 'always'/],
  ]
  for (const [def, message] of bad) {
    const err = t.throws(() => defineSubscriber(def as never), { instanceOf: MI_ERR_PLUGIN_INVALID, message })
    t.is(err?.code, 'MI_ERR_PLUGIN_INVALID')
  }
})

test('subscriberFromModule picks the default export, also CJS-nested', (t) => {
  const sub = defineSubscriber({ name: 'a', handle })
  t.is(subscriberFromModule({ default: sub }, 'a'), sub)
  t.is(subscriberFromModule({ default: { default: sub } }, 'a'), sub)
  t.throws(() => subscriberFromModule({ sub }, 'pkg-a'), {
    instanceOf: MI_ERR_PLUGIN_NOT_SUBSCRIBER,
    message: /module pkg-a/,
  })
  t.throws(() => subscriberFromModule({ default: { name: 'a', handle } }, 'pkg-a'), {
    code: 'MI_ERR_PLUGIN_NOT_SUBSCRIBER',
  } as never)
})

test('loads a plugin module by specifier, as the runtime does', async (t) => {
  const mod = await import(new URL('./fixtures/echo-plugin.ts', import.meta.url).href)
  const sub = subscriberFromModule(mod, 'echo-plugin')
  t.is(sub.name, 'echo')
  assertHostCompatible(sub, '0.1.0')
  assertHostCompatible(sub, '0.1.7')
  const err = t.throws(() => assertHostCompatible(sub, '0.2.0'), {
    instanceOf: MI_ERR_PLUGIN_VERSION_MISMATCH,
  })
  t.is(err?.message, 'subscriber echo supports host ^0.1, this host is 0.2.0')
})
