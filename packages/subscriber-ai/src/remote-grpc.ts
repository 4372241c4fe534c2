import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import type { OutputTensor } from './backend.ts'
import type { RemoteConfig } from './config.ts'
import { MI_ERR_AI_REMOTE_REJECTED, MI_ERR_AI_REMOTE_UNAVAILABLE } from './errors.ts'
import { contentsData, decodeRaw, type ModelMeta, type V2Transport } from './remote.ts'

export const PROTO_PATH = fileURLToPath(new URL('../proto/grpc_predict_v2.proto', import.meta.url))

/** The v2 service definition, loaded once per thread (also used by the test server). */
export function loadInferenceService(): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync(PROTO_PATH, {
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  })
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    inference: { GRPCInferenceService: grpc.ServiceClientConstructor }
  }
  return pkg.inference.GRPCInferenceService
}

// Status codes where the same request may pass later: the server is down, overloaded or slow.
const kRetryable = new Set([
  grpc.status.UNAVAILABLE,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.ABORTED,
  grpc.status.INTERNAL,
  grpc.status.UNKNOWN,
  grpc.status.CANCELLED,
])

interface InferResponse {
  outputs: { name: string; datatype: string; shape: number[]; contents: Record<string, number[]> | null }[]
  rawOutputContents: Buffer[]
}

const kContentsField: Record<string, string> = {
  FP32: 'fp32Contents',
  FP64: 'fp64Contents',
  INT8: 'intContents',
  INT16: 'intContents',
  INT32: 'intContents',
  INT64: 'int64Contents',
  UINT8: 'uintContents',
  UINT16: 'uintContents',
  UINT32: 'uintContents',
  UINT64: 'uint64Contents',
  BOOL: 'boolContents',
}

/** Open Inference Protocol v2 over gRPC (`inference.GRPCInferenceService`), one HTTP/2 channel. */
export function createGrpcTransport(cfg: RemoteConfig): V2Transport {
  const tls = cfg.url.startsWith('grpcs://')
  const address = cfg.url.replace(/^grpcs?:\/\//, '').replace(/\/+$/, '')
  const label = `grpc${tls ? 's' : ''}://${address}/${cfg.model}${cfg.version ? `@${cfg.version}` : ''}`
  const Service = loadInferenceService()
  const client = new Service(
    address,
    tls ? grpc.credentials.createSsl() : grpc.credentials.createInsecure(),
    {
      // Keep the channel warm between batches and notice a dead peer without waiting for a request.
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.keepalive_permit_without_calls': 1,
      // Reconnect quickly once the server is back (the batch retry, not the channel, spaces attempts).
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2000,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    },
  )

  function call<T>(method: string, req: object, signal: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal.aborted) {
        reject(new MI_ERR_AI_REMOTE_UNAVAILABLE(label, 'the batch was aborted'))
        return
      }
      const metadata = new grpc.Metadata()
      for (const [k, v] of Object.entries(cfg.headers)) metadata.set(k.toLowerCase(), v)
      const fn = (client as unknown as Record<string, Function>)[method]!.bind(client)
      const c = fn(
        req,
        metadata,
        { deadline: Date.now() + cfg.timeoutMs },
        (err: grpc.ServiceError | null, res: T) => {
          signal.removeEventListener('abort', onAbort)
          if (!err) return resolve(res)
          if (kRetryable.has(err.code)) {
            const why =
              err.code === grpc.status.DEADLINE_EXCEEDED
                ? `no answer within ${cfg.timeoutMs} ms`
                : err.details
            reject(
              new MI_ERR_AI_REMOTE_UNAVAILABLE(label, `${grpc.status[err.code]}: ${why}`, { cause: err }),
            )
          } else {
            reject(
              new MI_ERR_AI_REMOTE_REJECTED(label, grpc.status[err.code] ?? String(err.code), err.details),
            )
          }
        },
      ) as grpc.ClientUnaryCall
      const onAbort = () => c.cancel()
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  return {
    label,
    async metadata(signal) {
      const ready = await call<{ ready: boolean }>('ServerReady', {}, signal)
      if (!ready.ready) throw new MI_ERR_AI_REMOTE_UNAVAILABLE(label, 'server not ready')
      let m: ModelMeta
      try {
        m = await call<ModelMeta>('ModelMetadata', { name: cfg.model, version: cfg.version ?? '' }, signal)
      } catch (err) {
        if ((err as { code?: string }).code === 'MI_ERR_AI_REMOTE_REJECTED') {
          throw new MI_ERR_AI_REMOTE_UNAVAILABLE(label, (err as Error).message, { cause: err })
        }
        throw err
      }
      return { inputs: m.inputs ?? [], outputs: m.outputs ?? [] }
    },
    async infer(input, rows, n, width, outputs, signal) {
      // raw_input_contents: the tensor's bytes as they are (little-endian f32), no per-value encoding.
      const raw = Buffer.from(rows.buffer, rows.byteOffset, n * width * 4)
      const res = await call<InferResponse>(
        'ModelInfer',
        {
          modelName: cfg.model,
          modelVersion: cfg.version ?? '',
          inputs: [{ name: input, datatype: 'FP32', shape: [n, width] }],
          outputs: outputs.map((name) => ({ name })),
          rawInputContents: [raw],
        },
        signal,
      )
      const out = new Map<string, OutputTensor>()
      res.outputs.forEach((o, i) => {
        const raw = res.rawOutputContents[i]
        const data =
          raw !== undefined && raw.byteLength > 0
            ? decodeRaw(o.datatype, raw)
            : contentsData(
                o.datatype,
                (o.contents?.[kContentsField[o.datatype] ?? 'fp32Contents'] ?? []) as number[],
              )
        out.set(o.name, { dims: o.shape.map(Number), data })
      })
      return out
    },
    close() {
      client.close()
    },
  }
}
