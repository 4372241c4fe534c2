import { fixedWidth, type InferChunk, type InferenceBackend, type OutputTensor } from './backend.ts'
import type { RemoteConfig } from './config.ts'
import { MI_ERR_AI_MODEL_MISMATCH_FATAL, MI_ERR_AI_REMOTE_UNAVAILABLE } from './errors.ts'

/** A tensor as the model metadata describes it (`shape` uses -1 for a variable dimension). */
export interface TensorMeta {
  name: string
  datatype: string
  shape: number[]
}

export interface ModelMeta {
  inputs: TensorMeta[]
  outputs: TensorMeta[]
}

/** One wire format of the Open Inference Protocol (v2): HTTP/JSON or gRPC. */
export interface V2Transport {
  readonly label: string
  /** Readiness, then model metadata. Throws MI_ERR_AI_REMOTE_UNAVAILABLE when not reachable. */
  metadata(signal: AbortSignal): Promise<ModelMeta>
  /** One ModelInfer of `n` FP32 rows; throws MI_ERR_AI_REMOTE_UNAVAILABLE / _REJECTED. */
  infer(
    input: string,
    rows: Float32Array,
    n: number,
    width: number,
    outputs: readonly string[],
    signal: AbortSignal,
  ): Promise<Map<string, OutputTensor>>
  close(): void
}

export interface Logger {
  warn(obj: object, msg: string): void
  info(obj: object, msg: string): void
}

/**
 * Output numbers the server sent as JSON / protobuf contents: FP32 ones as a Float32Array, so a
 * remote model's float32 outputs are printed as float32s like a local model's (result-json.ts).
 */
export function contentsData(datatype: string, data: number[]): ArrayLike<number> {
  return datatype === 'FP32' ? Float32Array.from(data) : data
}

/** Decodes little-endian raw tensor bytes (gRPC raw_output_contents) by v2 datatype. */
export function decodeRaw(datatype: string, bytes: Uint8Array): ArrayLike<number> | ArrayLike<bigint> {
  // Copy (Buffer#slice would not): the bytes may sit at an offset that is not a multiple of the
  // element size, inside a larger pooled buffer.
  const buf = Uint8Array.prototype.slice.call(bytes).buffer
  switch (datatype) {
    case 'FP32':
      return new Float32Array(buf)
    case 'FP64':
      return new Float64Array(buf)
    case 'INT8':
      return new Int8Array(buf)
    case 'UINT8':
    case 'BOOL':
      return new Uint8Array(buf)
    case 'INT16':
      return new Int16Array(buf)
    case 'UINT16':
      return new Uint16Array(buf)
    case 'INT32':
      return new Int32Array(buf)
    case 'UINT32':
      return new Uint32Array(buf)
    case 'INT64':
      return new BigInt64Array(buf)
    case 'UINT64':
      return new BigUint64Array(buf)
    default:
      throw new Error(`unsupported output datatype ${datatype}`)
  }
}

/**
 * The `remote` backend: metadata at start (or at the first batch, if the server is down at
 * start), then each batch split into requests of at most `maxBatchRows` rows with at most
 * `maxInFlight` of them on the wire, each bounded by `timeoutMs` and by the batch's signal.
 */
export function createRemoteBackend(
  cfg: RemoteConfig,
  transport: V2Transport,
  logger: Logger,
  /** Outputs to ask for; default all. Fewer outputs, smaller answers. */
  wanted?: readonly string[],
) {
  let meta: ModelMeta | undefined
  let inputName = cfg.input
  let inputWidth: number | undefined
  let outputNames: string[] = []

  async function ensureReady(signal: AbortSignal, mappingWidth: number): Promise<void> {
    if (meta) return
    const m = await transport.metadata(signal)
    const input = cfg.input ? m.inputs.find((i) => i.name === cfg.input) : m.inputs[0]
    if (!input) {
      throw new MI_ERR_AI_MODEL_MISMATCH_FATAL(
        transport.label,
        `no input named ${cfg.input}; inputs: ${m.inputs.map((i) => i.name).join(', ')}`,
      )
    }
    if (input.datatype !== 'FP32') {
      throw new MI_ERR_AI_MODEL_MISMATCH_FATAL(
        transport.label,
        `input ${input.name} is ${input.datatype}, not FP32`,
      )
    }
    const width = fixedWidth(input.shape)
    if (width !== undefined && width !== mappingWidth) {
      throw new MI_ERR_AI_MODEL_MISMATCH_FATAL(
        transport.label,
        `input ${input.name} takes ${width} values per row, the mapping gives ${mappingWidth}`,
      )
    }
    meta = m
    inputName = input.name
    inputWidth = width
    outputNames = m.outputs.map((o) => o.name)
    logger.info({ model: transport.label, input: input.name, outputs: outputNames }, 'AiRemoteModelReady')
  }

  const backend: InferenceBackend & { ensureReady: typeof ensureReady } = {
    label: transport.label,
    get inputWidth() {
      return inputWidth
    },
    get outputNames() {
      return outputNames
    },
    ensureReady,
    async infer(rows, n, width, signal) {
      if (!meta) {
        // Mapping mismatches surfaced here wait like an outage: records stay in the log until fixed.
        try {
          await ensureReady(signal, width)
        } catch (err) {
          if ((err as { code?: string }).code === 'MI_ERR_AI_MODEL_MISMATCH_FATAL') {
            throw new MI_ERR_AI_REMOTE_UNAVAILABLE(transport.label, (err as Error).message, { cause: err })
          }
          throw err
        }
      }
      const chunks: [number, number][] = []
      for (let start = 0; start < n; start += cfg.maxBatchRows)
        chunks.push([start, Math.min(n, start + cfg.maxBatchRows)])
      const results = new Array<InferChunk>(chunks.length)
      let next = 0
      // `maxInFlight` runners pull chunks in order: never more requests than that on the wire.
      const runner = async () => {
        while (next < chunks.length) {
          const i = next++
          const [a, b] = chunks[i]!
          try {
            const outputs = await transport.infer(
              inputName!,
              rows.subarray(a * width, b * width),
              b - a,
              width,
              wanted ?? outputNames,
              signal,
            )
            results[i] = { start: a, end: b, outputs }
          } catch (err) {
            // A refusal is about these rows (a bad tensor), not the server: report it per chunk.
            if ((err as { code?: string }).code !== 'MI_ERR_AI_REMOTE_REJECTED') {
              next = chunks.length // the batch will be retried whole: send nothing more
              throw err
            }
            results[i] = { start: a, end: b, error: err as Error & { code: string } }
          }
        }
      }
      const runners = Array.from({ length: Math.min(cfg.maxInFlight, chunks.length) }, runner)
      const settled = await Promise.allSettled(runners)
      const failed = settled.find((s) => s.status === 'rejected')
      if (failed) throw (failed as PromiseRejectedResult).reason
      return results
    },
    async close() {
      transport.close()
    },
  }
  return backend
}
