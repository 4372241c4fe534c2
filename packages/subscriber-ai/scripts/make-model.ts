/**
 * Builds the model this package ships: `models/anomaly-8.onnx`, a linear autoencoder fitted to a
 * synthetic 8-channel sensor signal (see src/model-math.ts), and `models/anomaly-8.json` with its
 * parameters and known inputs → outputs that the tests check through onnxruntime.
 *
 *   node scripts/make-model.ts          (pnpm --filter @module-ingest/subscriber-ai make-model)
 *
 * The ONNX file is written with protobufjs from the subset of onnx.proto it needs (field numbers
 * from onnx/onnx.proto, IR version 8, opset 13). Deterministic: reruns give identical bytes.
 */
import { writeFileSync } from 'node:fs'
import { seededRandom } from '@module-ingest/testing/random'
import protobuf from 'protobufjs'
import { fit, forward, type LinearAutoencoder, syntheticRow } from '../src/model-math.ts'

const kModelsDir = new URL('../models/', import.meta.url)
const FLOAT = 1 // TensorProto.DataType.FLOAT
const ATTR_INTS = 7 // AttributeProto.AttributeType.INTS
const ATTR_INT = 2

// The part of onnx.proto a plain float graph needs, as a protobufjs JSON descriptor.
const root = protobuf.Root.fromJSON({
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            docString: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
          },
        },
        OperatorSetIdProto: {
          fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } },
        },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            docString: { type: 'string', id: 10 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            i: { type: 'int64', id: 3 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
            type: { type: 'int32', id: 20 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
          },
        },
        ValueInfoProto: {
          fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } },
        },
        TypeProto: {
          fields: { tensorType: { type: 'TypeProtoTensor', id: 1 } },
        },
        TypeProtoTensor: {
          fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } },
        },
        TensorShapeProto: {
          fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } },
        },
        Dimension: {
          oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
          fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 } },
        },
      },
    },
  },
})

function tensor(name: string, dims: number[], values: number[]) {
  const raw = Buffer.from(new Float32Array(values).buffer)
  return { name, dims, dataType: FLOAT, rawData: raw }
}

function valueInfo(name: string, dims: (number | string)[]) {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  }
}

/** The ONNX graph of `forward()`: input [N,8] → score [N], code [N,k]. */
export function encodeModel(m: LinearAutoencoder): Uint8Array {
  const wT: number[] = []
  for (let j = 0; j < m.components; j++)
    for (let i = 0; i < m.features; i++) wT.push(m.weights[i * m.components + j]!)
  const node = (opType: string, input: string[], output: string[], attribute: object[] = []) => ({
    name: output[0],
    opType,
    input,
    output,
    attribute,
  })
  const model = {
    irVersion: 8,
    producerName: '@module-ingest/subscriber-ai',
    producerVersion: '0.1.0',
    docString:
      'Linear autoencoder anomaly scorer over 8 standardised sensor channels; built by scripts/make-model.ts',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'anomaly-8',
      node: [
        node('Sub', ['input', 'mean'], ['centered']),
        node('Div', ['centered', 'std'], ['z']),
        node('MatMul', ['z', 'W'], ['code']),
        node('MatMul', ['code', 'WT'], ['recon']),
        node('Sub', ['z', 'recon'], ['diff']),
        node('Mul', ['diff', 'diff'], ['sq']),
        node(
          'ReduceMean',
          ['sq'],
          ['score'],
          [
            { name: 'axes', type: ATTR_INTS, ints: [1] },
            { name: 'keepdims', type: ATTR_INT, i: 0 },
          ],
        ),
      ],
      initializer: [
        tensor('mean', [m.features], m.mean),
        tensor('std', [m.features], m.std),
        tensor('W', [m.features, m.components], m.weights),
        tensor('WT', [m.components, m.features], wT),
      ],
      input: [valueInfo('input', ['N', m.features])],
      output: [valueInfo('score', ['N']), valueInfo('code', ['N', m.components])],
    },
  }
  const Model = root.lookupType('onnx.ModelProto')
  return Model.encode(Model.fromObject(model)).finish()
}

function main(): void {
  // The test kit's PRNG: a build-time tool, like the benches; the subscriber never draws random
  // numbers. Its sequence is pinned (testing/test/random.test.ts), so the fitted weights are too.
  const rand = seededRandom(0x5eed)
  const train = Array.from({ length: 4000 }, () => syntheticRow(rand))
  const fitted = fit(train, 3)
  // Store float32 values: what the .onnx holds is exactly what the reference math uses.
  const m: LinearAutoencoder = {
    ...fitted,
    mean: fitted.mean.map(Math.fround),
    std: fitted.std.map(Math.fround),
    weights: fitted.weights.map(Math.fround),
  }
  const normal = Array.from({ length: 6 }, () => syntheticRow(rand).map(Math.fround))
  // Anomalies: one channel spiked, one stuck at zero, two channels swapped.
  const spiked = [...normal[0]!]
  spiked[2] = spiked[2]! + 3
  const stuck = [...normal[1]!]
  stuck[4] = 0
  const swapped = [...normal[2]!]
  ;[swapped[0], swapped[7]] = [swapped[7]!, swapped[0]!]
  const inputs = [...normal, spiked, stuck, swapped].map((r) => r.map(Math.fround))
  const examples = inputs.map((input) => ({ input, ...forward(m, input) }))
  writeFileSync(new URL('anomaly-8.onnx', kModelsDir), encodeModel(m))
  writeFileSync(
    new URL('anomaly-8.json', kModelsDir),
    `${JSON.stringify(
      {
        model: 'anomaly-8.onnx',
        fields: ['temp_in', 'temp_out', 'pressure', 'flow', 'rpm', 'current', 'vibration', 'temp_motor'],
        input: 'input',
        outputs: ['score', 'code'],
        params: m,
        examples,
      },
      null,
      1,
    )}\n`,
  )
  const maxNormal = Math.max(...examples.slice(0, 6).map((e) => e.score))
  const minAnomaly = Math.min(...examples.slice(6).map((e) => e.score))
  console.log(`wrote models/anomaly-8.onnx; normal score ≤ ${maxNormal}, anomalies ≥ ${minAnomaly}`)
}

if (import.meta.main) main()
