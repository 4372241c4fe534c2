/** The shipped model through real onnxruntime-node: the outputs the build script computed. */
import { readFileSync } from 'node:fs'
import test from 'ava'
import { InferenceSession, Tensor } from 'onnxruntime-node'
import { encodeModel } from '../scripts/make-model.ts'
import { SHIPPED_MODEL_PATH } from '../src/config.ts'
import { forward, type LinearAutoencoder } from '../src/model-math.ts'

interface Meta {
  fields: string[]
  params: LinearAutoencoder
  examples: { input: number[]; score: number; code: number[] }[]
}
const meta = JSON.parse(readFileSync(new URL('../models/anomaly-8.json', import.meta.url), 'utf8')) as Meta

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-5 + 1e-4 * Math.abs(b)

test('the .onnx file is exactly what the build script writes from the committed parameters', (t) => {
  const file = readFileSync(SHIPPED_MODEL_PATH)
  t.true(file.byteLength < 8192, 'a few KB')
  t.deepEqual(Buffer.from(encodeModel(meta.params)), file)
})

test('known inputs give the outputs make-model computed, in one batched run', async (t) => {
  const session = await InferenceSession.create(SHIPPED_MODEL_PATH)
  t.teardown(() => session.release())
  t.deepEqual(session.inputNames, ['input'])
  t.deepEqual(session.outputNames, ['score', 'code'])
  const n = meta.examples.length
  const data = new Float32Array(n * 8)
  for (const [i, e] of meta.examples.entries()) data.set(e.input, i * 8)
  const out = await session.run({ input: new Tensor('float32', data, [n, 8]) })
  t.deepEqual(out.score!.dims, [n])
  t.deepEqual(out.code!.dims, [n, 3])
  meta.examples.forEach((e, i) => {
    t.true(close(out.score!.data[i] as number, e.score), `score ${i}: ${out.score!.data[i]} vs ${e.score}`)
    for (let k = 0; k < 3; k++) t.true(close(out.code!.data[i * 3 + k] as number, e.code[k]!))
    // The reference math agrees too (it is what the README documents).
    t.true(close(forward(meta.params, e.input).score, e.score))
  })
  // The model separates the fitted signal from the broken rows by orders of magnitude.
  const normal = meta.examples.slice(0, 6).map((e) => e.score)
  const anomalies = meta.examples.slice(6).map((e) => e.score)
  t.true(Math.max(...normal) * 100 < Math.min(...anomalies))
})
