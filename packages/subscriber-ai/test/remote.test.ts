/**
 * The `remote` backend against a real Open Inference Protocol v2 server (test/helpers), over
 * HTTP/JSON and over gRPC, backed by the same onnxruntime session as the `onnx` backend.
 */
import { createTestHarness } from '@module-ingest/subscriber-sdk/testkit'
import test, { type ExecutionContext } from 'ava'
import ai, { type AiResult } from '../src/index.ts'
import { close, EXAMPLES, FIELDS, jsonBody } from './helpers/fixtures.ts'
import { startV2Server, type V2ServerOptions } from './helpers/v2-server.ts'

type Protocol = 'http' | 'grpc'
let seq = 0

async function setup(
  t: ExecutionContext,
  protocol: Protocol,
  remote: object = {},
  server: Partial<V2ServerOptions> = {},
) {
  const srv = await startV2Server({ protocol, ...server })
  t.teardown(() => srv.stop())
  const name = `remote-${protocol}-${++seq}`
  const h = createTestHarness(ai, {
    name,
    config: {
      backend: 'remote',
      remote: { url: srv.url, protocol, model: 'anomaly-8', timeoutMs: 20_000, ...remote },
      mapping: { fields: FIELDS },
    },
  })
  t.teardown(() => h.close())
  return { srv, h, name }
}

const records = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ body: jsonBody(EXAMPLES[i % EXAMPLES.length]!.input) }))

/**
 * Redeliver as the runtime does after *_UNAVAILABLE (backoff, no attempt spent) until it passes:
 * a gRPC channel that saw the server down fails fast until its reconnect backoff has run out.
 */
async function redeliverUntilUp(t: ExecutionContext, h: ReturnType<typeof createTestHarness>) {
  for (let i = 0; ; i++) {
    try {
      return await h.redeliver()
    } catch (err) {
      t.is((err as { code?: string }).code, 'MI_ERR_AI_REMOTE_UNAVAILABLE')
      if (i >= 50) throw err
      await new Promise((r) => setTimeout(r, 200))
    }
  }
}

function checkScores(t: ExecutionContext, texts: string[], firstIndex = 0) {
  texts.forEach((text, k) => {
    const r = JSON.parse(text) as AiResult
    const e = EXAMPLES[(firstIndex + k) % EXAMPLES.length]!
    t.true(close(r.outputs.score as number, e.score), `row ${k}: ${r.outputs.score} vs ${e.score}`)
    t.is((r.outputs.code as number[]).length, 3)
    // FP32 outputs are printed as float32s (≤ 9 significant digits), as from a local model.
    const digits = /"score":-?([0-9.]+)/.exec(text)![1]!.replace('.', '').replace(/^0+/, '')
    t.true(digits.length <= 9, text)
  })
}

for (const protocol of ['http', 'grpc'] as const) {
  test(`${protocol}: happy path — outputs match the shipped model, batches split into bounded requests`, async (t) => {
    const { srv, h } = await setup(t, protocol, { maxBatchRows: 4, maxInFlight: 2 })
    await h.init()
    t.truthy(
      h.logs.find((l) => l.msg === 'AiRemoteModelReady'),
      'metadata fetched at start',
    )
    const emitted = await h.deliver(records(18))
    t.is(emitted.length, 18)
    checkScores(
      t,
      emitted.map((e) => e.text),
    )
    t.is(srv.stats.inferRequests, 5, '18 rows in requests of ≤ 4')
    t.true(srv.stats.maxInFlight <= 2)
    t.is(srv.stats.rows, 18)
  })

  test(`${protocol}: only the outputs the config needs are requested`, async (t) => {
    const srv = await startV2Server({ protocol })
    t.teardown(() => srv.stop())
    const h2 = createTestHarness(ai, {
      name: `remote-outputs-${protocol}`,
      config: {
        backend: 'remote',
        remote: { url: srv.url, protocol, model: 'anomaly-8', timeoutMs: 20_000 },
        mapping: { fields: FIELDS },
        outputs: ['code'],
      },
    })
    t.teardown(() => h2.close())
    await h2.init()
    const [one] = await h2.deliver(records(1))
    t.deepEqual(Object.keys((JSON.parse(one!.text) as AiResult).outputs), ['code'])
    t.deepEqual(srv.stats.requestedOutputs, [['code']])
  })

  test(`${protocol}: server down, then up — *_UNAVAILABLE while down, no loss and no dead letters`, async (t) => {
    const { srv, h } = await setup(t, protocol, { timeoutMs: 2000 })
    await srv.stop()
    // Down at start: init does not fail (records would only wait), it warns.
    await h.init()
    t.truthy(h.logs.find((l) => l.msg === 'AiRemoteNotReady'))
    const err = await t.throwsAsync(h.deliver(records(5)))
    t.is((err as { code?: string }).code, 'MI_ERR_AI_REMOTE_UNAVAILABLE')
    t.regex(err!.message, /anomaly-8/)
    await srv.start()
    srv.notReady = true
    const busy = await t.throwsAsync(h.redeliver())
    t.is((busy as { code?: string }).code, 'MI_ERR_AI_REMOTE_UNAVAILABLE')
    srv.notReady = false
    const emitted = await redeliverUntilUp(t, h)
    t.is(emitted.length, 5)
    t.false(emitted.some((e) => e.stream.startsWith('dlq.')))
    checkScores(
      t,
      emitted.map((e) => e.text),
    )
    // Down again mid-run (metadata known): the batch fails as unavailable, then passes.
    await srv.stop()
    const again = await t.throwsAsync(h.deliver(records(3)))
    t.is((again as { code?: string }).code, 'MI_ERR_AI_REMOTE_UNAVAILABLE')
    await srv.start()
    t.is((await redeliverUntilUp(t, h)).length, 3)
    t.deepEqual(h.metrics.counters.dead_lettered_records_total, undefined)
  })

  test(`${protocol}: slow server — requests time out as unavailable, in-flight stays bounded`, async (t) => {
    const { srv, h } = await setup(t, protocol, { timeoutMs: 1500, maxBatchRows: 2, maxInFlight: 3 })
    await h.init()
    srv.delayMs = 10_000
    const err = await t.throwsAsync(h.deliver(records(20)))
    t.is((err as { code?: string }).code, 'MI_ERR_AI_REMOTE_UNAVAILABLE')
    t.regex(err!.message, /within 1500 ms/)
    t.true(srv.stats.maxInFlight <= 3, `max in flight ${srv.stats.maxInFlight}`)
    t.true(srv.stats.inferRequests <= 3, 'nothing more is sent once the batch has failed')
    // The server notices the abandoned requests (client timeout → cancel/close) and drops them.
    for (let i = 0; i < 200 && srv.stats.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 50))
    t.is(srv.stats.inFlight, 0)
    srv.stats.maxInFlight = 0
    srv.delayMs = 0
    const emitted = await redeliverUntilUp(t, h)
    t.is(emitted.length, 20)
    t.true(srv.stats.maxInFlight <= 3, `max in flight ${srv.stats.maxInFlight}`)
  })

  test(`${protocol}: the batch's signal aborts requests in flight`, async (t) => {
    const { srv, h } = await setup(t, protocol, { timeoutMs: 30_000 })
    await h.init()
    srv.delayMs = 60_000
    const pending = h.deliver(records(2))
    setTimeout(() => h.abort(new Error('shutdown')), 100)
    const err = await t.throwsAsync(pending)
    t.is((err as { code?: string }).code, 'MI_ERR_AI_REMOTE_UNAVAILABLE')
    // Ended by the abort, not by the 30 s request timeout.
    t.regex(err!.message, /aborted|CANCELLED/)
  })

  test(`${protocol}: a tensor the server refuses (4xx) is dead-lettered with the server's message`, async (t) => {
    // The server's metadata leaves the width open ([-1, -1]), so only inference sees 7 values.
    const srv = await startV2Server({ protocol, inputShape: [-1, -1] })
    t.teardown(() => srv.stop())
    const name = `remote-bad-${protocol}`
    const h = createTestHarness(ai, {
      name,
      config: {
        backend: 'remote',
        remote: { url: srv.url, protocol, model: 'anomaly-8', maxBatchRows: 2 },
        mapping: { fields: FIELDS.slice(0, 7) },
      },
    })
    t.teardown(() => h.close())
    await h.init()
    const emitted = await h.deliver(records(3))
    const letters = emitted.filter((e) => e.stream === `dlq.${name}`).map((e) => JSON.parse(e.text))
    t.is(letters.length, 3)
    t.deepEqual(
      letters.map((l) => l.record.lsn),
      [1, 2, 3],
    )
    t.is(letters[0].error.code, 'MI_ERR_AI_REMOTE_REJECTED')
    t.regex(letters[0].error.message, /model expects \[-1,8\], got \[2,7\]/)
    t.regex(letters[0].error.message, protocol === 'http' ? /HTTP 400/ : /INVALID_ARGUMENT/)
    t.is(h.metrics.counters.rejected_records_total, 3)
  })
}

test('an unknown model waits like an outage; a mapping that contradicts the metadata fails init', async (t) => {
  const { h } = await setup(t, 'http', { model: 'nope' })
  await h.init()
  t.truthy(h.logs.find((l) => l.msg === 'AiRemoteNotReady'))
  const err = await t.throwsAsync(h.deliver(records(1)))
  t.is((err as { code?: string }).code, 'MI_ERR_AI_REMOTE_UNAVAILABLE')
  t.regex(err!.message, /no model|404/)

  const srv = await startV2Server({ protocol: 'grpc' })
  t.teardown(() => srv.stop())
  const h2 = createTestHarness(ai, {
    name: 'remote-mismatch',
    config: {
      backend: 'remote',
      remote: { url: srv.url, protocol: 'grpc', model: 'anomaly-8' },
      mapping: { fields: FIELDS.slice(0, 5) },
    },
  })
  const e2 = await t.throwsAsync(h2.init())
  t.is((e2 as { code?: string }).code, 'MI_ERR_AI_MODEL_MISMATCH_FATAL')
  t.regex(e2!.message, /takes 8 values per row, the mapping gives 5/)

  // Outputs named in the config are checked once the metadata is known, here at the first batch.
  await srv.stop()
  const h3 = createTestHarness(ai, {
    name: 'remote-outputs',
    config: {
      backend: 'remote',
      remote: { url: srv.url, protocol: 'grpc', model: 'anomaly-8', timeoutMs: 20_000 },
      mapping: { fields: FIELDS },
      emitWhen: { output: 'nope', above: 1 },
    },
  })
  t.teardown(() => h3.close())
  await h3.init()
  await srv.start()
  let e3: unknown
  for (let i = 0; i < 50; i++) {
    e3 = await h3.deliver(records(1)).then(
      () => undefined,
      (err: unknown) => err,
    )
    if (!String(e3).includes('ECONNREFUSED') && !String(e3).includes('No connection')) break
    await new Promise((r) => setTimeout(r, 200))
  }
  t.is((e3 as { code?: string }).code, 'MI_ERR_AI_REMOTE_UNAVAILABLE')
  t.regex(String(e3), /no output named nope; outputs: score, code/)
})
