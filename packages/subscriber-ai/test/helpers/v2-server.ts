/**
 * A small Open Inference Protocol v2 server (HTTP/JSON and gRPC) for tests and the bench, backed
 * by an onnxruntime session of the shipped model, so its outputs match the `onnx` backend's.
 * It can be slowed down, stopped and restarted on the same port, and counts requests in flight.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as grpc from '@grpc/grpc-js'
import { InferenceSession, Tensor } from 'onnxruntime-node'
import { SHIPPED_MODEL_PATH } from '../../src/config.ts'
import { loadInferenceService } from '../../src/remote-grpc.ts'

export interface V2ServerOptions {
  protocol: 'http' | 'grpc'
  /** Model name served. Default 'anomaly-8'. */
  model?: string
  /** Port to bind (to come back on the same one after stop()). Default: a free one. */
  port?: number
  /** Input shape the metadata reports; default [-1, 8]. [-1, -1] leaves shape checks to infer. */
  inputShape?: number[]
}

export interface V2Server {
  readonly url: string
  readonly port: number
  /** Delay added to each infer request. */
  delayMs: number
  /** Requests answered 503 (HTTP) / UNAVAILABLE (gRPC) while true. */
  notReady: boolean
  readonly stats: {
    inferRequests: number
    rows: number
    inFlight: number
    maxInFlight: number
    /** The output names each infer request asked for. */
    requestedOutputs: string[][]
  }
  stop(): Promise<void>
  /** Listen again on the same port. */
  start(): Promise<void>
}

interface InferInput {
  name: string
  shape: number[]
  datatype: string
  data?: number[]
  raw?: Buffer
}

type InferResult =
  | { status: number; error: string }
  | { status: 200; outputs: { name: string; shape: number[]; data: Float32Array }[] }

const modelMeta = (inputShape = [-1, 8]) => ({
  inputs: [{ name: 'input', datatype: 'FP32', shape: inputShape }],
  outputs: [
    { name: 'score', datatype: 'FP32', shape: [-1] },
    { name: 'code', datatype: 'FP32', shape: [-1, 3] },
  ],
})

export async function startV2Server(options: V2ServerOptions): Promise<V2Server> {
  const model = options.model ?? 'anomaly-8'
  const MODEL_META = modelMeta(options.inputShape)
  const session = await InferenceSession.create(SHIPPED_MODEL_PATH)
  const stats = { inferRequests: 0, rows: 0, inFlight: 0, maxInFlight: 0, requestedOutputs: [] as string[][] }
  let port = options.port ?? 0
  let http: Server | undefined
  let rpc: grpc.Server | undefined

  const state = { delayMs: 0, notReady: false }

  // `gone` aborts when the client gave up (timeout, cancel): the request stops counting as in flight.
  async function infer(inputs: InferInput[], names: string[], gone: AbortSignal): Promise<InferResult> {
    stats.inferRequests++
    stats.requestedOutputs.push(names)
    stats.inFlight++
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight)
    try {
      if (state.delayMs > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, state.delayMs)
          gone.addEventListener('abort', () => {
            clearTimeout(timer)
            resolve()
          })
        })
        if (gone.aborted) return { status: 499, error: 'client went away' }
      }
      const input = inputs[0]
      if (input === undefined) return { status: 400, error: 'no inference input' }
      if (input.name !== 'input') return { status: 400, error: `unexpected inference input '${input.name}'` }
      if (input.datatype !== 'FP32')
        return { status: 400, error: `input datatype ${input.datatype}, expected FP32` }
      const [n, w] = input.shape
      if (input.shape.length !== 2 || w !== 8) {
        return {
          status: 400,
          error: `unexpected shape for input 'input', model expects [-1,8], got [${input.shape}]`,
        }
      }
      const data = input.raw
        ? new Float32Array(
            input.raw.buffer.slice(input.raw.byteOffset, input.raw.byteOffset + input.raw.byteLength),
          )
        : Float32Array.from(input.data ?? [])
      if (data.length !== n! * 8)
        return { status: 400, error: `input has ${data.length} values, shape says ${n! * 8}` }
      stats.rows += n!
      const out = await session.run({ input: new Tensor('float32', data, [n!, 8]) })
      const wanted = names.length > 0 ? names : ['score', 'code']
      return {
        status: 200,
        outputs: wanted.map((name) => ({
          name,
          shape: [...out[name]!.dims],
          data: out[name]!.data as Float32Array,
        })),
      }
    } finally {
      stats.inFlight--
    }
  }

  function send(res: ServerResponse, status: number, body: unknown) {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  }

  async function onHttp(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const url = req.url ?? ''
    if (state.notReady) return send(res, 503, { error: 'server not ready' })
    if (url === '/v2/health/ready') return send(res, 200, {})
    if (req.method === 'GET' && url === `/v2/models/${model}`) {
      return send(res, 200, { name: model, versions: ['1'], platform: 'onnxruntime_onnx', ...MODEL_META })
    }
    if (req.method === 'POST' && url === `/v2/models/${model}/infer`) {
      let body: { inputs: InferInput[]; outputs?: { name: string }[] }
      try {
        body = JSON.parse(Buffer.concat(chunks).toString())
      } catch {
        return send(res, 400, { error: 'request body is not JSON' })
      }
      const gone = new AbortController()
      res.on('close', () => {
        if (!res.writableEnded) gone.abort()
      })
      const r = await infer(
        body.inputs ?? [],
        (body.outputs ?? []).map((o) => o.name),
        gone.signal,
      )
      if (!('outputs' in r)) return send(res, r.status, { error: r.error })
      return send(res, 200, {
        model_name: model,
        outputs: r.outputs.map((o) => ({
          name: o.name,
          shape: o.shape,
          datatype: 'FP32',
          data: Array.from(o.data),
        })),
      })
    }
    return send(res, 404, { error: `no route ${req.method} ${url}` })
  }

  const Service = loadInferenceService()
  type Call = grpc.ServerUnaryCall<Record<string, unknown>, unknown>
  type Cb = grpc.sendUnaryData<unknown>
  const unavailable = (cb: Cb) =>
    cb({ code: grpc.status.UNAVAILABLE, details: 'server not ready' } as grpc.ServiceError)
  const handlers = {
    ServerLive: (_c: Call, cb: Cb) => cb(null, { live: true }),
    ServerReady: (_c: Call, cb: Cb) => cb(null, { ready: !state.notReady }),
    ModelReady: (_c: Call, cb: Cb) => cb(null, { ready: !state.notReady }),
    ModelMetadata: (c: Call, cb: Cb) => {
      if (state.notReady) return unavailable(cb)
      if (c.request.name !== model)
        return cb({ code: grpc.status.NOT_FOUND, details: `no model ${c.request.name}` } as grpc.ServiceError)
      cb(null, { name: model, versions: ['1'], platform: 'onnxruntime_onnx', ...MODEL_META })
    },
    ModelInfer: (c: Call, cb: Cb) => {
      if (state.notReady) return unavailable(cb)
      const req = c.request as {
        inputs: {
          name: string
          datatype: string
          shape: number[]
          contents: { fp32Contents: number[] } | null
        }[]
        outputs: { name: string }[]
        rawInputContents: Buffer[]
      }
      const inputs = req.inputs.map((t, i) => ({
        name: t.name,
        datatype: t.datatype,
        shape: t.shape.map(Number),
        ...(req.rawInputContents[i]
          ? { raw: req.rawInputContents[i] }
          : { data: t.contents?.fp32Contents ?? [] }),
      }))
      const gone = new AbortController()
      c.on('cancelled', () => gone.abort())
      infer(
        inputs,
        req.outputs.map((o) => o.name),
        gone.signal,
      ).then(
        (r) => {
          if (!('outputs' in r))
            return cb({ code: grpc.status.INVALID_ARGUMENT, details: r.error } as grpc.ServiceError)
          cb(null, {
            modelName: model,
            outputs: r.outputs.map((o) => ({ name: o.name, datatype: 'FP32', shape: o.shape })),
            rawOutputContents: r.outputs.map((o) =>
              Buffer.from(o.data.buffer, o.data.byteOffset, o.data.byteLength),
            ),
          })
        },
        (err: Error) => cb({ code: grpc.status.INTERNAL, details: err.message } as grpc.ServiceError),
      )
    },
  }

  async function start() {
    if (options.protocol === 'http') {
      http = createServer((req, res) => {
        onHttp(req, res).catch((err: Error) => send(res, 500, { error: err.message }))
      })
      await new Promise<void>((resolve) => http!.listen(port, '127.0.0.1', resolve))
      port = (http.address() as AddressInfo).port
    } else {
      rpc = new grpc.Server()
      rpc.addService(Service.service, handlers)
      port = await new Promise<number>((resolve, reject) =>
        rpc!.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
          err ? reject(err) : resolve(p),
        ),
      )
    }
  }

  async function stop() {
    if (http) {
      const h = http
      http = undefined
      h.closeAllConnections()
      await new Promise<void>((resolve) => h.close(() => resolve()))
    }
    if (rpc) {
      const r = rpc
      rpc = undefined
      r.forceShutdown()
    }
  }

  await start()
  return {
    get url() {
      return options.protocol === 'http' ? `http://127.0.0.1:${port}` : `127.0.0.1:${port}`
    },
    get port() {
      return port
    },
    get delayMs() {
      return state.delayMs
    },
    set delayMs(v) {
      state.delayMs = v
    },
    get notReady() {
      return state.notReady
    },
    set notReady(v) {
      state.notReady = v
    },
    stats,
    stop,
    start,
  }
}
