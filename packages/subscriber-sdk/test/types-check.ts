// Type tests: checked by `tsc -p .` (typecheck), never run. Each @ts-expect-error must stay an error.
import type { StandardSchemaV1, Subscriber, SubscriberConfig, SubscriberRecord } from '../src/index.ts'
import { defineSubscriber, isSubscriber, validateSubscriberConfig } from '../src/index.ts'
import { createTestHarness } from '../src/testkit.ts'

declare const schema: StandardSchemaV1<unknown, { threshold: number }>

// The config type flows from the schema into ctx.config.
const sub = defineSubscriber({
  name: 'typed',
  configSchema: schema,
  handle(batch, ctx) {
    const n: number = ctx.config.threshold
    const r: SubscriberRecord | undefined = batch[0]
    const seq: bigint | undefined = r?.seq
    ctx.emit('s', 'text')
    ctx.emit('s', new Uint8Array(1))
    // @ts-expect-error bodies are bytes or strings
    ctx.emit('s', { value: n })
    // @ts-expect-error config has no such key
    ctx.config.threshhold
    // @ts-expect-error attempt is read-only
    ctx.attempt = 2
    void seq
  },
})
const c: SubscriberConfig<typeof sub> = { threshold: 1 }
void c

// @ts-expect-error handle is required
defineSubscriber({ name: 'no-handle' })

// @ts-expect-error name is required
defineSubscriber({ handle() {} })

defineSubscriber({
  name: 'bad-hook',
  handle() {},
  // @ts-expect-error unknown hook
  hooks: { onBatchh() {} },
})

// A subscriber's object is frozen.
// @ts-expect-error read-only
sub.name = 'other'

// Any subscriber fits the runtime's loosely typed slot.
const loose: Subscriber<unknown> = sub
void loose

declare const x: unknown
if (isSubscriber(x)) {
  const handle: Subscriber<unknown>['handle'] = x.handle
  void handle
}

async function check() {
  const cfg: { threshold: number } = await validateSubscriberConfig(sub, {})
  void cfg
  const h = createTestHarness(sub, { config: { threshold: 3 } })
  const t: number = h.config.threshold
  void t
  await h.deliver([{ body: 'x' }, { body: { value: 1 } }, { lsn: 3, seq: 1n }])
  // @ts-expect-error seq is a bigint
  await h.deliver([{ seq: 1 }])
}
void check
