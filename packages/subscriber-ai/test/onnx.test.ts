/** The `onnx` backend through the SDK test kit: mappings, outputs, bad records, bad models. */
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestHarness } from '@module-ingest/subscriber-sdk/testkit'
import test from 'ava'
import { pack } from 'msgpackr'
import ai, { type AiResult, SHIPPED_MODEL_PATH } from '../src/index.ts'
import { close, EXAMPLES, FIELDS, jsonBody } from './helpers/fixtures.ts'

const parse = (text: string) => JSON.parse(text) as AiResult
// Instances are per name per thread and these tests run concurrently: one name each.
let seq = 0
const harness = (config: object, name = `ai-${++seq}`) => createTestHarness(ai, { name, config })

test('JSON bodies → one derived record per input, with provenance and the model outputs', async (t) => {
  const h = harness({ mapping: { fields: FIELDS } }, 'scorer')
  await h.init()
  t.teardown(() => h.close())
  const emitted = await h.deliver(
    EXAMPLES.map((e, i) => ({
      body: jsonBody(e.input),
      stream: 'telemetry.pump',
      module: `m${i % 2}`,
      core: 'c1',
      ts: 1000 + i,
    })),
  )
  t.is(emitted.length, EXAMPLES.length)
  emitted.forEach((e, i) => {
    t.is(e.stream, 'ai.scorer')
    const r = parse(e.text)
    t.like(r, { lsn: i + 1, stream: 'telemetry.pump', module: `m${i % 2}`, core: 'c1', ts: 1000 + i })
    t.true(close(r.outputs.score as number, EXAMPLES[i]!.score))
    t.is((r.outputs.code as number[]).length, 3)
  })
  t.is(h.metrics.counters.inferences_total, EXAMPLES.length)
  t.is(h.metrics.histograms.inference_duration_seconds!.length, 1, 'one run() for the whole batch')
})

test('msgpack bodies, nested fields, f32le bodies and JSON arrays map to the same rows', async (t) => {
  const e = EXAMPLES[6]!
  const cases: [object, unknown][] = [
    [{ format: 'msgpack', fields: FIELDS }, pack(jsonBody(e.input))],
    [{ format: 'json', fields: FIELDS.map((f) => `s.${f}`) }, { s: jsonBody(e.input) }],
    [{ format: 'f32le', length: 8 }, new Uint8Array(new Float32Array(e.input).buffer)],
    [{ format: 'json', length: 8 }, e.input],
    [{ format: 'msgpack', length: 8 }, pack(e.input)],
  ]
  for (const [mapping, body] of cases) {
    const h = harness({ mapping, outputs: ['score'] })
    await h.init()
    // A leading 1-byte record puts the body at an odd offset of the shared buffer (f32le reads
    // unaligned); it is on a dlq stream, which the subscriber never scores.
    await h.deliver([{ body: 'x', stream: 'dlq.other' }, { body: body as Uint8Array }])
    t.is(h.emitted.length, 1)
    const [first] = h.emitted
    t.truthy(first, JSON.stringify(mapping))
    const r = parse(first!.text)
    t.deepEqual(Object.keys(r.outputs), ['score'])
    t.true(close(r.outputs.score as number, e.score), JSON.stringify(mapping))
    await h.close()
  }
})

test('emitWhen: only rows over the threshold are emitted', async (t) => {
  const h = harness({
    mapping: { fields: FIELDS },
    emitWhen: { output: 'score', above: 0.5 },
    outputStream: 'anomalies',
  })
  await h.init()
  t.teardown(() => h.close())
  const emitted = await h.deliver(EXAMPLES.map((e) => ({ body: jsonBody(e.input) })))
  t.deepEqual(
    emitted.map((e) => parse(e.text).lsn),
    [7, 8, 9],
  )
  t.is(emitted[0]!.stream, 'anomalies')
})

test('emitWhen may test an output that is not copied into the record', async (t) => {
  const h = harness({
    mapping: { fields: FIELDS },
    outputs: ['code'],
    emitWhen: { output: 'score', below: 0.002 },
  })
  await h.init()
  t.teardown(() => h.close())
  const emitted = await h.deliver(EXAMPLES.map((e) => ({ body: jsonBody(e.input) })))
  const expected = EXAMPLES.flatMap((e, i) => (e.score < 0.002 ? [i + 1] : []))
  t.true(expected.length > 0)
  t.deepEqual(
    emitted.map((e) => parse(e.text).lsn),
    expected,
  )
  t.deepEqual(Object.keys(parse(emitted[0]!.text).outputs), ['code'])
})

test('bad bodies are counted, warned about at a bounded rate with their lsn, and skipped', async (t) => {
  const h = harness({ mapping: { fields: FIELDS }, warnIntervalMs: 60_000 })
  await h.init()
  t.teardown(() => h.close())
  const good = jsonBody(EXAMPLES[0]!.input)
  const emitted = await h.deliver([
    { body: 'not json' },
    { body: { ...good, rpm: 'fast' } },
    { body: good },
    { body: '' },
    { body: [1, 2, 3] },
    { body: { temp_in: 1 } },
  ])
  t.deepEqual(
    emitted.map((e) => parse(e.text).lsn),
    [3],
  )
  t.is(h.metrics.counters.bad_records_total, 5)
  const warnings = h.logs.filter((l) => l.msg === 'AiRecordUnmappedError')
  t.is(warnings.length, 1, 'one warning per interval')
  t.like(warnings[0]!.obj, { lsn: 1 })
  t.regex(String(warnings[0]!.obj.reason), /not json/)
})

test("onBadRecord: 'dead-letter' writes one dead letter per bad record and goes on", async (t) => {
  const h = harness({ mapping: { format: 'f32le', length: 8 }, onBadRecord: 'dead-letter' }, 'scorer-dlq')
  await h.init()
  t.teardown(() => h.close())
  const emitted = await h.deliver([
    { body: new Uint8Array(new Float32Array(EXAMPLES[0]!.input).buffer) },
    { body: new Uint8Array(31) },
    { body: new Uint8Array(new Float32Array([Number.NaN, 0, 0, 0, 0, 0, 0, 0]).buffer) },
  ])
  const letters = emitted.filter((e) => e.stream === 'dlq.scorer-dlq').map((e) => JSON.parse(e.text))
  t.is(letters.length, 2)
  t.like(letters[0], {
    subscriber: 'scorer-dlq',
    error: { code: 'MI_ERR_AI_BAD_RECORD' },
    record: { lsn: 2 },
  })
  t.regex(letters[0].error.message, /lsn 2 .*31 bytes, expected 32/)
  t.is(Buffer.from(letters[0].record.body, 'base64').byteLength, 31)
  t.is(emitted.filter((e) => e.stream === 'ai.scorer-dlq').length, 1)
})

test('windowed: the last K values per (module, stream) make one row; redelivery gives the same windows', async (t) => {
  // The shipped model reads 8 values: a window of 8 single-value records per key.
  const h = harness({ mapping: { fields: ['v'] }, window: { size: 8, hop: 2 } })
  await h.init()
  t.teardown(() => h.close())
  const e = EXAMPLES[2]!
  const records = e.input.flatMap((v, i) => [
    { body: { v }, module: 'a' },
    { body: { v: i }, module: 'b' },
  ])
  h.failNext(1, { when: 'after' })
  await t.throwsAsync(h.deliver(records.slice(0, 12)))
  const first = await h.redeliver()
  t.is(first.length, 0, 'no window is full after 6 records per key')
  const second = await h.deliver([
    ...records.slice(12),
    { body: { v: 9 }, module: 'a' },
    { body: { v: 10 }, module: 'a' },
  ])
  // Key a: windows end at its 8th and 10th records (hop 2); key b: at its 8th.
  const rs = second.map((x) => parse(x.text))
  t.deepEqual(
    rs.map((r) => [r.module, r.lsn, r.window!.firstLsn]),
    [
      ['a', 15, 1],
      ['b', 16, 2],
      ['a', 18, 5],
    ],
  )
  t.true(close(rs[0]!.outputs.score as number, e.score), 'window a = the example row')
  // Lost after handle ran: the redelivery finds its entries and re-emits identical windows.
  h.failNext(1, { when: 'after' })
  await t.throwsAsync(h.redeliver())
  const again = await h.redeliver()
  t.deepEqual(
    again.map((x) => x.text),
    second.map((x) => x.text),
  )
})

test('a mapping that does not fit the model fails init, naming the model and the widths', async (t) => {
  const h = harness({ mapping: { fields: FIELDS.slice(0, 7) } })
  const err = await t.throwsAsync(h.init())
  t.is((err as { code?: string }).code, 'MI_ERR_AI_MODEL_MISMATCH_FATAL')
  t.regex(err!.message, /anomaly-8\.onnx.*takes 8 values per row, the mapping gives 7/)
  const h2 = harness({ mapping: { fields: FIELDS }, outputs: ['nope'] })
  t.regex((await t.throwsAsync(h2.init()))!.message, /no output named nope; outputs: score, code/)
})

test('a missing or corrupt model file fails init with an error naming the file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mi-ai-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const missing = join(dir, 'missing.onnx')
  const corrupt = join(dir, 'corrupt.onnx')
  await writeFile(corrupt, 'this is not a protobuf')
  for (const path of [missing, corrupt]) {
    const h = harness({ mapping: { fields: FIELDS }, onnx: { path } })
    const err = await t.throwsAsync(h.init())
    t.is((err as { code?: string }).code, 'MI_ERR_AI_MODEL_LOAD_FATAL')
    t.true(err!.message.includes(path), err!.message)
  }
  // A copy elsewhere loads: the path option is honoured.
  const copy = join(dir, 'copy.onnx')
  await copyFile(SHIPPED_MODEL_PATH, copy)
  const h = harness({ mapping: { fields: FIELDS }, onnx: { path: copy, executionProviders: ['cpu'] } })
  await h.init()
  await h.close()
  t.pass()
})

test('config errors name the option', async (t) => {
  for (const [config, re] of [
    [{}, /mapping/],
    [{ mapping: { format: 'f32le' } }, /length/],
    [{ mapping: { fields: FIELDS }, backend: 'remote' }, /remote/],
    [{ mapping: { fields: FIELDS }, emitWhen: { output: 'score' } }, /above/],
  ] as const) {
    const h = harness(config)
    const err = await t.throwsAsync(h.init())
    t.is((err as { code?: string }).code, 'MI_ERR_PLUGIN_CONFIG_INVALID')
    t.regex(err!.message, re)
  }
})

test('execution providers are passed to onnxruntime as given', async (t) => {
  const ok = harness({
    mapping: { fields: FIELDS },
    onnx: { executionProviders: [{ name: 'cpu', useArena: false }] },
  })
  await ok.init()
  t.is((await ok.deliver([{ body: jsonBody(EXAMPLES[0]!.input) }])).length, 1)
  await ok.close()
  // The npm package's binary is a CPU build: asking for CUDA reaches onnxruntime's CUDA loader,
  // which fails here, and the error names the model file. (With a CUDA build it would load.)
  const gpu = harness({ mapping: { fields: FIELDS }, onnx: { executionProviders: ['cuda'] } })
  const err = await gpu.init().then(
    () => undefined,
    (e: Error) => e,
  )
  if (err) {
    t.is((err as { code?: string }).code, 'MI_ERR_AI_MODEL_LOAD_FATAL')
    t.regex(err.message, /anomaly-8\.onnx.*cuda/i)
  } else {
    t.log('a CUDA-enabled onnxruntime is installed: the session loaded on the GPU')
    await gpu.close()
  }
})

test('window history is bounded per key', async (t) => {
  const { WindowStore } = await import('../src/window.ts')
  const w = new WindowStore(4, 1, 10)
  const row = new Float32Array(1)
  for (let lsn = 1; lsn <= 5000; lsn++) {
    row[0] = lsn
    w.push('m', 's', lsn, row)
  }
  const out = new Float32Array(4)
  t.is(w.windowAt('m', 's', 5000, out, 0), 4997)
  t.deepEqual([...out], [4997, 4998, 4999, 5000])
  t.is(w.windowAt('m', 's', 5000 - 512, out, 0), 5000 - 512 - 3, 'a redelivery 512 records back still works')
  t.is(w.windowAt('m', 's', 100, out, 0), undefined, 'older history is gone')
})
