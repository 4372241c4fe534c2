import type { SubscriberContext, SubscriberRecord } from '@module-ingest/subscriber-sdk'
import { defineSubscriber } from '@module-ingest/subscriber-sdk'
import { type InferenceBackend, type OutputTensor, rowValue } from './backend.ts'
import { type AiConfig, aiConfigSchema } from './config.ts'
import {
  MI_ERR_AI_BAD_RECORD,
  MI_ERR_AI_MODEL_MISMATCH_FATAL,
  MI_ERR_AI_NOT_INITIALIZED,
  MI_ERR_AI_OUTPUT_INVALID,
  MI_ERR_AI_REMOTE_UNAVAILABLE,
} from './errors.ts'
import { deadLetter, RateLimitedWarning } from './letters.ts'
import { type CompiledMapping, compileMapping } from './mapping.ts'
import { createOnnxBackend } from './onnx-backend.ts'
import { createRemoteBackend } from './remote.ts'
import { createHttpTransport } from './remote-http.ts'
import { resultWriter } from './result-json.ts'
import { WindowStore } from './window.ts'

export const version = '0.1.0'

/** The JSON body of each derived record. */
export interface AiResult {
  /** The scored record (for a window: its last record). */
  lsn: number
  module: string
  core: string
  stream: string
  /** Producer timestamp of the scored record, µs since epoch (a decimal string above 2^53-1, as recordToJson). */
  ts: number | string
  /** Windowed models: the lsn of the window's first record and the window size. */
  window?: { firstLsn: number; size: number }
  outputs: Record<string, number | number[]>
}

interface Instance {
  config: AiConfig
  outputStream: string
  mapping: CompiledMapping
  /** Values per model row: the mapping's width × the window size. */
  rowWidth: number
  backend: InferenceBackend & { ensureReady?: (signal: AbortSignal, width: number) => Promise<void> }
  windows: WindowStore | undefined
  warn: RateLimitedWarning
  /** The model's outputs were checked against `outputs`/`emitWhen` (remote: after its metadata). */
  checked: boolean
  /** Reused across batches: rows × rowWidth float32s. */
  matrix: Float32Array
  scratch: Float32Array
}

// Module scope is per worker thread; the host runs one instance per name per worker and never
// overlaps handle calls of one instance. init() (re)creates the instance's state and session.
const instances = new Map<string, Instance>()

async function createBackend(config: AiConfig, ctx: SubscriberContext<AiConfig>, width: number) {
  if (config.backend === 'onnx') return createOnnxBackend(config.onnx)
  const remote = config.remote!
  // gRPC (grpc-js, proto-loader) is loaded only when used: the server imports this module on its
  // main thread at startup just to validate the options.
  const transport =
    remote.protocol === 'grpc'
      ? (await import('./remote-grpc.ts')).createGrpcTransport(remote)
      : createHttpTransport(remote)
  const wanted = config.outputs
    ? [...new Set([...config.outputs, ...(config.emitWhen ? [config.emitWhen.output] : [])])]
    : undefined
  const backend = createRemoteBackend(remote, transport, ctx.logger, wanted)
  try {
    await backend.ensureReady(AbortSignal.any([ctx.signal, AbortSignal.timeout(remote.timeoutMs)]), width)
  } catch (err) {
    if ((err as { code?: string }).code !== 'MI_ERR_AI_REMOTE_UNAVAILABLE') {
      transport.close()
      throw err
    }
    // Down at start: records wait in the log; the first batch asks again (and so on, with backoff).
    ctx.logger.warn({ err, model: backend.label }, 'AiRemoteNotReady')
  }
  return backend
}

function checkModel(inst: Omit<Instance, 'matrix' | 'scratch' | 'checked'>): void {
  const { backend, config, rowWidth } = inst
  if (backend.inputWidth !== undefined && backend.inputWidth !== rowWidth) {
    throw new MI_ERR_AI_MODEL_MISMATCH_FATAL(
      backend.label,
      `its input takes ${backend.inputWidth} values per row, the mapping gives ${rowWidth}` +
        (config.window ? ` (${inst.mapping.width} × window ${config.window.size})` : ''),
    )
  }
  if (backend.outputNames.length === 0) return // remote, metadata not fetched yet
  for (const name of [...(config.outputs ?? []), ...(config.emitWhen ? [config.emitWhen.output] : [])]) {
    if (!backend.outputNames.includes(name)) {
      throw new MI_ERR_AI_MODEL_MISMATCH_FATAL(
        backend.label,
        `no output named ${name}; outputs: ${backend.outputNames.join(', ')}`,
      )
    }
  }
}

function reportBad(inst: Instance, ctx: SubscriberContext<AiConfig>, r: SubscriberRecord, why: string): void {
  ctx.metrics.counter('bad_records_total').inc()
  const suppressed = inst.warn.take()
  if (suppressed !== undefined) {
    ctx.logger.warn(
      { lsn: r.lsn, module: r.module, stream: r.stream, reason: why, suppressedSinceLast: suppressed },
      'AiRecordUnmappedError',
    )
  }
  if (inst.config.onBadRecord === 'dead-letter') {
    const err = new MI_ERR_AI_BAD_RECORD(r.lsn, why)
    ctx.emit(
      `dlq.${ctx.name}`,
      deadLetter(ctx.name, { code: err.code, message: err.message }, ctx.attempt, r),
    )
    ctx.metrics.counter('dead_lettered_records_total').inc()
  }
}

interface Pending {
  record: SubscriberRecord
  firstLsn: number | undefined
}

/** Maps the batch into rows; returns the records that have a row, in row order. */
function buildRows(inst: Instance, batch: SubscriberRecord[], ctx: SubscriberContext<AiConfig>): Pending[] {
  const { mapping, rowWidth, windows, outputStream } = inst
  if (inst.matrix.length < batch.length * rowWidth) inst.matrix = new Float32Array(batch.length * rowWidth)
  const pending: Pending[] = []
  for (const r of batch) {
    // Never score our own output or dead letters, even when subscribed to every stream.
    if (r.stream === outputStream || r.stream.startsWith('dlq.')) continue
    const offset = pending.length * rowWidth
    if (!windows) {
      const why = mapping.map(r.body, inst.matrix, offset)
      if (why !== undefined) reportBad(inst, ctx, r, why)
      else pending.push({ record: r, firstLsn: undefined })
      continue
    }
    if (!windows.seen(r.module, r.stream, r.lsn)) {
      const why = mapping.map(r.body, inst.scratch, 0)
      if (why !== undefined) {
        reportBad(inst, ctx, r, why)
        continue
      }
      windows.push(r.module, r.stream, r.lsn, inst.scratch)
    } else {
      ctx.metrics.counter('redelivered_records_total').inc()
    }
    const firstLsn = windows.windowAt(r.module, r.stream, r.lsn, inst.matrix, offset)
    if (firstLsn !== undefined) pending.push({ record: r, firstLsn })
  }
  return pending
}

/** emitWhen, on the full output (it need not be one of the `outputs` copied into the record). */
function passes(inst: Instance, tensor: OutputTensor | undefined, i: number, n: number): boolean {
  const when = inst.config.emitWhen
  if (!when) return true
  if (!tensor) return false
  const v = rowValue(tensor, i, n)
  const x = Array.isArray(v) ? v[when.index] : when.index === 0 ? v : undefined
  if (typeof x !== 'number' || Number.isNaN(x)) return false
  return (when.above !== undefined && x > when.above) || (when.below !== undefined && x < when.below)
}

async function handleBatch(inst: Instance, batch: SubscriberRecord[], ctx: SubscriberContext<AiConfig>) {
  const pending = buildRows(inst, batch, ctx)
  if (inst.windows) ctx.metrics.gauge('tracked_keys').set(inst.windows.keys)
  if (pending.length === 0) return
  const { backend, config, outputStream, rowWidth } = inst
  const t0 = performance.now()
  const chunks = await backend.infer(inst.matrix, pending.length, rowWidth, ctx.signal)
  ctx.metrics.histogram('inference_duration_seconds').record((performance.now() - t0) / 1000)
  ctx.metrics.counter('inferences_total').inc(pending.length)
  if (!inst.checked) {
    try {
      checkModel(inst)
    } catch (err) {
      // A remote model whose outputs do not fit the config: wait (records stay in the log) until
      // the server or the config is fixed, as for an outage.
      throw new MI_ERR_AI_REMOTE_UNAVAILABLE(backend.label, (err as Error).message, { cause: err })
    }
    inst.checked = backend.outputNames.length > 0
  }
  const wanted = config.outputs
  for (const chunk of chunks) {
    if (chunk.error) {
      // The server refused these rows (e.g. 400 for a bad tensor): retrying cannot help.
      for (let i = chunk.start; i < chunk.end; i++) {
        const r = pending[i]!.record
        ctx.emit(
          `dlq.${ctx.name}`,
          deadLetter(ctx.name, { code: chunk.error.code, message: chunk.error.message }, ctx.attempt, r),
        )
      }
      ctx.metrics.counter('rejected_records_total').inc(chunk.end - chunk.start)
      ctx.metrics.counter('dead_lettered_records_total').inc(chunk.end - chunk.start)
      ctx.logger.error(
        { err: chunk.error, firstLsn: pending[chunk.start]!.record.lsn, records: chunk.end - chunk.start },
        'AiInferenceRejectedError',
      )
      continue
    }
    const n = chunk.end - chunk.start
    const tensors = [...chunk.outputs].filter(([name]) => !wanted || wanted.includes(name))
    for (const [name, t] of chunk.outputs) {
      if (t.data.length % n !== 0 || (t.dims.length > 0 && t.dims[0] !== n)) {
        throw new MI_ERR_AI_OUTPUT_INVALID(
          backend.label,
          `output ${name} has shape [${t.dims.join(', ')}] for ${n} rows`,
        )
      }
    }
    const write = resultWriter(
      tensors.map(([name]) => name),
      tensors.map(([, t]) => t),
      n,
    )
    const whenTensor = config.emitWhen ? chunk.outputs.get(config.emitWhen.output) : undefined
    let emitted = 0
    for (let i = 0; i < n; i++) {
      if (config.emitWhen && !passes(inst, whenTensor, i, n)) continue
      const { record: r, firstLsn } = pending[chunk.start + i]!
      const window = firstLsn !== undefined ? { firstLsn, size: config.window!.size } : undefined
      ctx.emit(outputStream, write(r, i, window))
      emitted++
    }
    ctx.metrics.counter('emitted_records_total').inc(emitted)
  }
}

/** Scores records with an ONNX model in the worker, or on an Open Inference Protocol v2 server. */
export const aiSubscriber = defineSubscriber({
  name: 'ai',
  version,
  configSchema: aiConfigSchema,
  async init(ctx) {
    const config = ctx.config
    const mapping = compileMapping(config.mapping)
    const rowWidth = mapping.width * (config.window?.size ?? 1)
    const backend = await createBackend(config, ctx, rowWidth)
    const inst = {
      config,
      outputStream: config.outputStream ?? `ai.${ctx.name}`,
      mapping,
      rowWidth,
      backend,
      windows: config.window
        ? new WindowStore(config.window.size, config.window.hop, config.window.maxKeys)
        : undefined,
      warn: new RateLimitedWarning(config.warnIntervalMs),
      checked: false,
      matrix: new Float32Array(0),
      scratch: new Float32Array(mapping.width),
    }
    try {
      checkModel(inst)
    } catch (err) {
      await backend.close()
      throw err
    }
    inst.checked = backend.outputNames.length > 0
    const previous = instances.get(ctx.name)
    instances.set(ctx.name, inst)
    await previous?.backend.close()
    ctx.logger.info(
      { backend: config.backend, model: backend.label, rowWidth, outputStream: inst.outputStream },
      'AiSubscriberReady',
    )
  },
  async handle(batch, ctx) {
    const inst = instances.get(ctx.name)
    if (!inst) throw new MI_ERR_AI_NOT_INITIALIZED(ctx.name)
    await handleBatch(inst, batch, ctx)
  },
  async close(ctx) {
    const inst = instances.get(ctx.name)
    instances.delete(ctx.name)
    await inst?.backend.close()
  },
})
