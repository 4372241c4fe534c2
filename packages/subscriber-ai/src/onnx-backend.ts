import { access } from 'node:fs/promises'
import type { InferenceSession as Session } from 'onnxruntime-node'
import { fixedWidth, type InferenceBackend, type OutputTensor } from './backend.ts'
import type { OnnxConfig } from './config.ts'
import { MI_ERR_AI_MODEL_LOAD_FATAL, MI_ERR_AI_MODEL_MISMATCH_FATAL } from './errors.ts'

// onnxruntime-node's install script would download a GPU build from outside; it never runs here
// (it is not in onlyBuiltDependencies), and the CPU binary inside the npm package is what loads.
// Imported lazily so the remote backend does not pay for (or need) the native addon.
function loadOrt(): Promise<typeof import('onnxruntime-node')> {
  return import('onnxruntime-node')
}

/** One session per (worker, instance), created in init and reused for every batch. */
export async function createOnnxBackend(cfg: OnnxConfig): Promise<InferenceBackend> {
  const path = cfg.path
  try {
    await access(path)
  } catch (err) {
    throw new MI_ERR_AI_MODEL_LOAD_FATAL(path, (err as Error).message, { cause: err })
  }
  let ort: typeof import('onnxruntime-node')
  let session: Session
  try {
    ort = await loadOrt()
    const options: Session.SessionOptions = {
      executionProviders: cfg.executionProviders as Session.ExecutionProviderConfig[],
      ...(cfg.intraOpNumThreads !== undefined ? { intraOpNumThreads: cfg.intraOpNumThreads } : {}),
      ...(cfg.graphOptimizationLevel ? { graphOptimizationLevel: cfg.graphOptimizationLevel } : {}),
    }
    session = await ort.InferenceSession.create(path, options)
  } catch (err) {
    throw new MI_ERR_AI_MODEL_LOAD_FATAL(path, (err as Error).message, { cause: err })
  }
  const inputName = cfg.input ?? session.inputNames[0]
  if (inputName === undefined || !session.inputNames.includes(inputName)) {
    await session.release()
    throw new MI_ERR_AI_MODEL_MISMATCH_FATAL(
      path,
      `no input named ${cfg.input}; inputs: ${session.inputNames.join(', ')}`,
    )
  }
  const meta = session.inputMetadata.find((m) => m.name === inputName)
  if (meta?.isTensor && meta.type !== 'float32') {
    await session.release()
    throw new MI_ERR_AI_MODEL_MISMATCH_FATAL(
      path,
      `input ${inputName} is ${meta.type}, only float32 inputs are supported`,
    )
  }
  const inputWidth = meta?.isTensor ? fixedWidth(meta.shape) : undefined
  return {
    label: path,
    inputWidth,
    outputNames: session.outputNames,
    async infer(rows, n, width) {
      // One tensor of N rows and one run(): per-record runs cost ~10× more (see bench/).
      const input = new ort.Tensor('float32', rows.subarray(0, n * width), [n, width])
      const result = await session.run({ [inputName]: input })
      const out = new Map<string, OutputTensor>()
      for (const [name, t] of Object.entries(result)) {
        out.set(name, { dims: t.dims, data: t.data as ArrayLike<number> | ArrayLike<bigint> })
      }
      return [{ start: 0, end: n, outputs: out }]
    },
    async close() {
      await session.release()
    },
  }
}
