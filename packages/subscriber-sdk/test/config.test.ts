import test from 'ava'
import type { StandardSchemaV1 } from '../src/index.ts'
import { defineSubscriber, MI_ERR_PLUGIN_CONFIG_INVALID, validateSubscriberConfig } from '../src/index.ts'

// A hand-written Standard Schema: what zod, valibot and arktype implement for us.
const thresholdSchema: StandardSchemaV1<unknown, { threshold: number }> = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate(value) {
      const v = value as { threshold?: unknown; tags?: unknown[] } | undefined
      if (typeof v?.threshold !== 'number') {
        return { issues: [{ message: 'expected a number', path: ['threshold'] }] }
      }
      if (v.tags && typeof v.tags[1] !== 'string') {
        return { issues: [{ message: 'expected a string', path: ['tags', { key: 1 }] }] }
      }
      return { value: { threshold: v.threshold } }
    },
  },
}

const sub = defineSubscriber({ name: 'th', configSchema: thresholdSchema, handle() {} })

test('returns the schema output', async (t) => {
  t.deepEqual(await validateSubscriberConfig(sub, { threshold: 3, extra: 1 }), { threshold: 3 })
})

test('throws MI_ERR_PLUGIN_CONFIG_INVALID with issue paths', async (t) => {
  const err = await t.throwsAsync(validateSubscriberConfig(sub, {}), {
    instanceOf: MI_ERR_PLUGIN_CONFIG_INVALID,
  })
  t.is(err?.message, 'subscriber th: invalid config: threshold: expected a number')
  t.deepEqual((err as unknown as { issues: unknown }).issues, [
    { path: 'threshold', message: 'expected a number' },
  ])
  const err2 = await t.throwsAsync(validateSubscriberConfig(sub, { threshold: 1, tags: ['a', 2] }))
  t.regex(err2!.message, /tags\[1\]: expected a string/)
})

test('without a schema the raw options pass through', async (t) => {
  const plain = defineSubscriber({ name: 'plain', handle() {} })
  t.deepEqual(await validateSubscriberConfig(plain, { a: 1 }), { a: 1 })
  t.deepEqual(await validateSubscriberConfig(plain, undefined), {})
})

test('async schemas are awaited', async (t) => {
  const asyncSub = defineSubscriber<number>({
    name: 'async',
    configSchema: {
      '~standard': { version: 1, vendor: 't', validate: async (v) => ({ value: Number(v) * 2 }) },
    },
    handle() {},
  })
  t.is(await validateSubscriberConfig(asyncSub, 21), 42)
})

test('zod v4 schemas work as they are (Standard Schema), nested paths included', async (t) => {
  const { z } = await import('zod')
  const zsub = defineSubscriber({
    name: 'zod',
    configSchema: z.object({ window: z.object({ size: z.number().int() }), streams: z.array(z.string()) }),
    handle() {},
  })
  const ok = await validateSubscriberConfig(zsub, { window: { size: 3 }, streams: ['a'] })
  t.is(ok.window.size, 3)
  const err = await t.throwsAsync(
    validateSubscriberConfig(zsub, { window: { size: 1.5 }, streams: ['a', 2] }),
  )
  t.deepEqual(
    (err as unknown as { issues: { path: string }[] }).issues.map((i) => i.path),
    ['window.size', 'streams[1]'],
  )
})
