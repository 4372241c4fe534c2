import { MessageChannel } from 'node:worker_threads'
import test from 'ava'
import { createError, errorLine, fromWire, toWire } from '../src/index.ts'

const MI_ERR_TEST_THING = createError<[string, number]>('MI_ERR_TEST_THING', 'thing %s failed at %d')

test('formats, carries code and cause, and brands instanceof', (t) => {
  const cause = new Error('disk')
  const err = new MI_ERR_TEST_THING('seg-1', 42, { cause })
  t.is(err.message, 'thing seg-1 failed at 42')
  t.is(err.code, 'MI_ERR_TEST_THING')
  t.is(err.cause, cause)
  t.true(err instanceof MI_ERR_TEST_THING)
  t.true(err instanceof Error)
  t.false(new Error('x') instanceof MI_ERR_TEST_THING)
  // A second copy of the class (as a plugin's own node_modules would hold) still recognises it.
  const Copy = createError('MI_ERR_TEST_THING', 'other')
  t.true(err instanceof Copy)
})

test('callable without new', (t) => {
  const err = (MI_ERR_TEST_THING as unknown as (a: string, b: number) => Error)('a', 1)
  t.true(err instanceof MI_ERR_TEST_THING)
})

test('postMessage strips the code, the wire shape keeps it (pinned on this Node)', async (t) => {
  const { port1, port2 } = new MessageChannel()
  const received = new Promise<unknown[]>((resolve) => port2.once('message', resolve))
  const err = new MI_ERR_TEST_THING('x', 1, { cause: new Error('root') })
  port1.postMessage([err, toWire(err)])
  const [cloned, wire] = (await received) as [Error & { code?: string }, ReturnType<typeof toWire>]
  port1.close()
  t.is(cloned.code, undefined)
  const back = fromWire(wire)
  t.is(back.code, 'MI_ERR_TEST_THING')
  t.is(back.message, 'thing x failed at 1')
  t.is((back.cause as Error).message, 'root')
})

test('retryAfterMs survives the wire; anything but a non-negative number is dropped', (t) => {
  const hinted = Object.assign(new MI_ERR_TEST_THING('x', 1), { retryAfterMs: 0 })
  t.is(toWire(hinted).retryAfterMs, 0)
  t.is((fromWire(toWire(hinted)) as { retryAfterMs?: number }).retryAfterMs, 0)
  t.false('retryAfterMs' in toWire(new MI_ERR_TEST_THING('x', 1)))
  t.false('retryAfterMs' in toWire(Object.assign(new Error('e'), { retryAfterMs: '5' })))
  t.false('retryAfterMs' in toWire(Object.assign(new Error('e'), { retryAfterMs: -1 })))
})

test('errorLine: error: MI_ERR_X: message, and only MI_ERR_ codes', (t) => {
  t.is(errorLine(new MI_ERR_TEST_THING('a', 1)), 'error: MI_ERR_TEST_THING: thing a failed at 1')
  t.is(errorLine({ code: 'MI_ERR_X', message: 'MI_ERR_X: said already' }), 'error: MI_ERR_X: said already')
  t.is(
    errorLine(Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' })),
    'error: ENOENT: no such file',
  )
  t.is(errorLine(new Error('plain')), 'error: plain')
  t.is(errorLine('a string'), 'error: a string')
})
