import test from 'ava'
import type { SubscriberRecord } from '../src/index.ts'
import {
  createEmitBuffer,
  defineSubscriber,
  MAX_STREAM_NAME_BYTES,
  MI_ERR_PLUGIN_EMIT_INVALID,
  MI_ERR_PLUGIN_SIMULATED_FAILURE,
} from '../src/index.ts'
import { createTestHarness } from '../src/testkit.ts'

// Counts bodies per stream; emits a running total. Fails on a body of 'boom'.
function counting() {
  const seen: SubscriberRecord[][] = []
  const sub = defineSubscriber<{ prefix: string }>({
    name: 'counting',
    handle(batch, ctx) {
      seen.push(batch.map((r) => ({ ...r, body: r.body.slice() })))
      ctx.metrics.counter('records_total').inc(batch.length)
      ctx.metrics.histogram('batch_size').record(batch.length)
      ctx.metrics.gauge('last_lsn').set(batch.at(-1)!.lsn)
      for (const r of batch) {
        const text = new TextDecoder().decode(r.body)
        ctx.emit(`${ctx.config.prefix ?? 'x'}.${r.stream}`, `${ctx.attempt}:${text}`)
        if (text === 'boom') throw new Error('boom')
      }
      ctx.logger.info({ n: batch.length }, 'handled %d', batch.length)
    },
  })
  return { sub, seen }
}

test('deliver fills defaults, shares one body buffer and commits emits', async (t) => {
  const { sub, seen } = counting()
  const h = createTestHarness(sub, { config: { prefix: 'p' } })
  await h.init()
  const out = await h.deliver([{ body: 'a' }, { body: { value: 1 }, stream: 's2' }, { body: 7 }])
  t.deepEqual(
    out.map((e) => [e.stream, e.text, e.batchLastLsn]),
    [
      ['p.test', '1:a', 3],
      ['p.s2', '1:{"value":1}', 3],
      ['p.test', '1:7', 3],
    ],
  )
  const [batch] = seen
  t.deepEqual(
    batch!.map((r) => [r.lsn, r.module, r.core, r.seq]),
    [
      [1, 'test-module', '', 1n],
      [2, 'test-module', '', 2n],
      [3, 'test-module', '', 3n],
    ],
  )
  t.true(batch![0]!.ts > 1.7e15, 'µs since epoch')
  t.is(h.emitted.length, 3)
  // lsns keep counting across batches unless given.
  await h.deliver([{ body: 'b' }])
  t.is(seen[1]![0]!.lsn, 4)
  await h.deliver([{ body: 'c', lsn: 100 }, { body: 'd' }])
  t.deepEqual(
    seen[2]!.map((r) => r.lsn),
    [100, 101],
  )
  t.deepEqual(h.metrics, {
    counters: { records_total: 6 },
    gauges: { last_lsn: 101 },
    histograms: { batch_size: [3, 1, 2] },
  })
  t.like(h.logs[0], { level: 'info', msg: 'handled 3', obj: { subscriber: 'counting', n: 3 } })
  await h.close()
})

test('bodies of one batch are views of one buffer, as the runtime delivers them', async (t) => {
  const buffers = new Set<ArrayBufferLike>()
  const sub = defineSubscriber({
    name: 'b',
    handle(batch) {
      for (const r of batch) buffers.add(r.body.buffer)
    },
  })
  const h = createTestHarness(sub)
  await h.init()
  await h.deliver([{ body: 'one' }, { body: 'two' }, { body: new Uint8Array([1, 2]) }])
  t.is(buffers.size, 1)
})

test('a failing handle discards its emits; redeliver bumps attempt', async (t) => {
  const { sub } = counting()
  const errors: unknown[] = []
  const h = createTestHarness(
    defineSubscriber({ ...sub, hooks: { onError: (err) => void errors.push(err) } }),
    { config: { prefix: 'p' } },
  )
  await h.init()
  await t.throwsAsync(h.deliver([{ body: 'ok' }, { body: 'boom' }]), { message: 'boom' })
  t.deepEqual(h.emitted, [])
  t.is(errors.length, 1)
  await t.throwsAsync(h.redeliver(), { message: 'boom' })
  t.deepEqual(
    h.deliveries.map((d) => [d.attempt, d.outcome, d.lsns]),
    [
      [1, 'failed', [1, 2]],
      [2, 'failed', [1, 2]],
    ],
  )
})

test('failNext: handle ran, delivery lost, retried with attempt 2', async (t) => {
  const { sub, seen } = counting()
  const h = createTestHarness(sub, { config: { prefix: 'p' } })
  await h.init()
  h.failNext()
  const out = await h.deliver([{ body: 'x' }], { maxAttempts: 3 })
  t.is(seen.length, 2, 'handle saw the batch twice: at least once')
  t.deepEqual(
    out.map((e) => e.text),
    ['2:x'],
  )
  t.deepEqual(
    h.emitted.map((e) => e.text),
    ['2:x'],
    'the lost attempt emitted nothing',
  )
  t.deepEqual(
    h.deliveries.map((d) => [d.attempt, d.outcome]),
    [
      [1, 'simulated-failure'],
      [2, 'ok'],
    ],
  )
  h.failNext(1, { when: 'before' })
  await t.throwsAsync(h.deliver([{ body: 'y' }]), { instanceOf: MI_ERR_PLUGIN_SIMULATED_FAILURE })
  t.is(seen.length, 2, "'before' failures never reach handle")
  await h.redeliver()
  t.is(seen.length, 3)
})

test('emit outside handle and bad emits throw MI_ERR_PLUGIN_EMIT_INVALID', async (t) => {
  let saved: ((s: string, b: string) => void) | undefined
  const sub = defineSubscriber<{ bad?: unknown }>({
    name: 'e',
    init(ctx) {
      saved = ctx.emit
    },
    handle(_batch, ctx) {
      ctx.emit('', 'x')
    },
  })
  const h = createTestHarness(sub)
  await h.init()
  t.throws(() => saved!('s', 'x'), {
    instanceOf: MI_ERR_PLUGIN_EMIT_INVALID,
    message: /only valid while handle/,
  })
  await t.throwsAsync(h.deliver([{}]), { instanceOf: MI_ERR_PLUGIN_EMIT_INVALID, message: /non-empty/ })
})

test('emit checks each new stream name, also after a good one (names are cached once checked)', (t) => {
  const b = createEmitBuffer('e')
  b.open()
  b.emit('ok', 'x')
  b.emit('ok', new Uint8Array([1]))
  for (const bad of ['', 'x'.repeat(MAX_STREAM_NAME_BYTES + 1), undefined, null])
    t.throws(() => b.emit(bad as string, 'y'), { instanceOf: MI_ERR_PLUGIN_EMIT_INVALID })
  t.deepEqual(
    b.takePending().map((r) => r.body),
    ['x', new Uint8Array([1])],
    'string bodies stay strings for the host',
  )
})

test('emit with a sink: each checked record goes to the sink at once, uncopied; bad ones still throw', (t) => {
  const got: [string, Uint8Array | string][] = []
  const b = createEmitBuffer('e', { add: (stream, body) => void got.push([stream, body]) })
  t.throws(() => b.emit('ok', 'x'), {
    instanceOf: MI_ERR_PLUGIN_EMIT_INVALID,
    message: /only valid while handle/,
  })
  b.open()
  const bytes = new Uint8Array([1])
  b.emit('ok', 'x')
  b.emit('ok', bytes)
  t.throws(() => b.emit('', 'y'), { instanceOf: MI_ERR_PLUGIN_EMIT_INVALID })
  t.throws(() => b.emit('ok', 5 as unknown as string), { instanceOf: MI_ERR_PLUGIN_EMIT_INVALID })
  t.deepEqual(got, [
    ['ok', 'x'],
    ['ok', bytes],
  ])
  t.is(got[1]![1], bytes, 'not copied: the sink copies it before emit returns')
  t.deepEqual(b.takePending(), [])
})

test('lifecycle: init → onReady → close → onClose; signal aborts on close', async (t) => {
  const calls: string[] = []
  let signal: AbortSignal | undefined
  const sub = defineSubscriber({
    name: 'life',
    init: (ctx) => {
      signal = ctx.signal
      calls.push('init')
    },
    handle: () => void calls.push('handle'),
    close: () => void calls.push('close'),
    hooks: { onReady: () => void calls.push('onReady'), onClose: () => void calls.push('onClose') },
  })
  {
    await using h = createTestHarness(sub)
    await t.throwsAsync(h.deliver([{}]), { message: /call init\(\) before deliver/ })
    await h.init()
    await h.deliver([{}])
    t.false(signal!.aborted)
  }
  t.true(signal!.aborted)
  t.deepEqual(calls, ['init', 'onReady', 'handle', 'close', 'onClose'])
})

test('child loggers carry bindings; Error objects land under err', async (t) => {
  const sub = defineSubscriber({
    name: 'log',
    handle(_b, ctx) {
      const log = ctx.logger.child({ part: 1 })
      log.warn('plain')
      log.error(new Error('bad'), 'failed %s', 'here')
    },
  })
  const h = createTestHarness(sub, { name: 'instance-a' })
  await h.init()
  await h.deliver([{}])
  t.like(h.logs[0], { level: 'warn', msg: 'plain', obj: { subscriber: 'instance-a', part: 1 } })
  t.is(h.logs[1]!.msg, 'failed here')
  t.true(h.logs[1]!.obj.err instanceof Error)
})
