import { fileURLToPath } from 'node:url'
import { z } from 'zod'

/** The model this package ships (see scripts/make-model.ts): 8 features in, `score` and `code` out. */
export const SHIPPED_MODEL_PATH = fileURLToPath(new URL('../models/anomaly-8.onnx', import.meta.url))

const mappingSchema = z
  .strictObject({
    /** How a record body is read: a JSON document, a msgpack document, or raw little-endian f32s. */
    format: z.enum(['json', 'msgpack', 'f32le']).default('json'),
    /** json/msgpack objects: the fields (dotted paths allowed) that make the row, in model order. */
    fields: z.array(z.string().min(1)).min(1).max(65_536).optional(),
    /** f32le, or json/msgpack arrays of numbers: the exact number of values per record. */
    length: z.number().int().positive().max(65_536).optional(),
  })
  .refine((m) => (m.format === 'f32le' ? m.length !== undefined && m.fields === undefined : true), {
    message: "format 'f32le' needs `length` (and no `fields`)",
  })
  .refine((m) => (m.format === 'f32le' ? true : (m.fields === undefined) !== (m.length === undefined)), {
    message: 'give either `fields` (object bodies) or `length` (array bodies)',
  })

const onnxSchema = z
  .strictObject({
    /** The .onnx file. Default: the anomaly-8 model shipped in this package. */
    path: z.string().min(1).default(SHIPPED_MODEL_PATH),
    /**
     * Passed to onnxruntime as is: 'cpu' (default), or e.g. 'cuda', 'dml', 'coreml',
     * `{ name: 'cuda', deviceId: 0 }` with an onnxruntime-node build that has them.
     */
    executionProviders: z
      .array(z.union([z.string().min(1), z.looseObject({ name: z.string().min(1) })]))
      .min(1)
      .default(['cpu']),
    intraOpNumThreads: z.number().int().min(0).max(256).optional(),
    graphOptimizationLevel: z.enum(['disabled', 'basic', 'extended', 'all']).optional(),
    /** Input tensor name; default: the model's first input. */
    input: z.string().min(1).optional(),
  })
  .prefault({})

const remoteSchema = z.strictObject({
  /** `http://host:port` (HTTP/JSON) or `host:port` / `grpc://host:port` (gRPC). */
  url: z.string().min(1),
  protocol: z.enum(['http', 'grpc']).default('http'),
  /** Model name on the server, and optionally its version. */
  model: z.string().min(1),
  version: z.string().min(1).optional(),
  /** Input tensor name; default: the first input in the model's metadata. */
  input: z.string().min(1).optional(),
  /** One request's limit; also bounded by the batch's ctx.signal. */
  timeoutMs: z.number().int().positive().default(5000),
  /** Requests in flight at once per worker (a batch larger than maxBatchRows is split). */
  maxInFlight: z.number().int().positive().max(1024).default(4),
  /** Rows per request. */
  maxBatchRows: z.number().int().positive().default(256),
  /** Extra HTTP headers / gRPC metadata (e.g. authorization for a KServe ingress). */
  headers: z.record(z.string(), z.string()).default({}),
})

/** Options under `subscribers[].options` in the server config. */
export const aiConfigSchema = z
  .strictObject({
    backend: z.enum(['onnx', 'remote']).default('onnx'),
    onnx: onnxSchema,
    remote: remoteSchema.optional(),
    mapping: mappingSchema,
    /** Feed the last `size` rows per (module, stream) as one row (time-series models). */
    window: z
      .strictObject({
        size: z.number().int().min(1).max(65_536),
        /** Emit every `hop` records once the window is full. */
        hop: z.number().int().positive().default(1),
        /** (module, stream) keys kept; the least recently seen is dropped beyond this. */
        maxKeys: z.number().int().positive().default(10_000),
      })
      .optional(),
    /** Model outputs copied into each derived record; default: all of them. */
    outputs: z.array(z.string().min(1)).min(1).optional(),
    /** Derived stream. Default `ai.<instance name>`. */
    outputStream: z.string().min(1).max(255).optional(),
    /** Emit only rows whose output crosses a threshold (e.g. anomalies). */
    emitWhen: z
      .strictObject({
        output: z.string().min(1),
        /** Element of a vector output; 0 for a scalar per row. */
        index: z.number().int().min(0).default(0),
        above: z.number().optional(),
        below: z.number().optional(),
      })
      .refine((e) => e.above !== undefined || e.below !== undefined, {
        message: 'emitWhen needs `above` or `below`',
      })
      .optional(),
    /** A record whose body does not fit the mapping: counted, warned about, and then this. */
    onBadRecord: z.enum(['skip', 'dead-letter']).default('skip'),
    /** At most one bad-record warning per this interval (the rest are counted). */
    warnIntervalMs: z.number().int().min(0).default(10_000),
  })
  .refine((c) => c.backend !== 'remote' || c.remote !== undefined, {
    message: "backend 'remote' needs a `remote` section",
    path: ['remote'],
  })

export type AiConfig = z.output<typeof aiConfigSchema>
export type MappingConfig = z.output<typeof mappingSchema>
export type OnnxConfig = z.output<typeof onnxSchema>
export type RemoteConfig = z.output<typeof remoteSchema>
