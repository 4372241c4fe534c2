import type { OutputTensor } from './backend.ts'
import type { RemoteConfig } from './config.ts'
import { MI_ERR_AI_REMOTE_REJECTED, MI_ERR_AI_REMOTE_UNAVAILABLE } from './errors.ts'
import { contentsData, type ModelMeta, type V2Transport } from './remote.ts'

interface V2Error {
  error?: string
}

interface V2InferResponse {
  outputs?: { name: string; shape: number[]; datatype: string; data: number[] }[]
}

/**
 * Open Inference Protocol v2 over HTTP/JSON with Node's fetch (undici): connections are kept
 * alive and reused between requests by the global dispatcher.
 */
export function createHttpTransport(cfg: RemoteConfig): V2Transport {
  const base = cfg.url.replace(/\/+$/, '')
  const modelPath = `/v2/models/${encodeURIComponent(cfg.model)}${cfg.version ? `/versions/${encodeURIComponent(cfg.version)}` : ''}`
  const label = `${base}${modelPath}`

  async function request(path: string, signal: AbortSignal, body?: string): Promise<unknown> {
    const timeout = AbortSignal.timeout(cfg.timeoutMs)
    let res: Response
    let text: string
    try {
      res = await fetch(`${base}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { ...cfg.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.any([signal, timeout]),
      })
      text = await res.text()
    } catch (err) {
      const e = err as Error & { cause?: Error & { code?: string } }
      const why = timeout.aborted
        ? `no answer within ${cfg.timeoutMs} ms`
        : signal.aborted
          ? 'the batch was aborted'
          : `${e.message}${e.cause ? ` (${e.cause.code ?? e.cause.message})` : ''}`
      throw new MI_ERR_AI_REMOTE_UNAVAILABLE(label, why, { cause: err })
    }
    let json: unknown
    try {
      json = text === '' ? {} : JSON.parse(text)
    } catch {
      json = { error: text.slice(0, 500) }
    }
    if (res.ok) return json
    const message = (json as V2Error).error ?? res.statusText
    // 4xx: this request is wrong (bad shape, unknown model/input); 408/429 and 5xx: the server is
    // busy or down, so the same request may well pass later.
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
      throw new MI_ERR_AI_REMOTE_REJECTED(label, `HTTP ${res.status}`, message)
    }
    throw new MI_ERR_AI_REMOTE_UNAVAILABLE(label, `HTTP ${res.status}: ${message}`)
  }

  return {
    label,
    async metadata(signal) {
      await request('/v2/health/ready', signal)
      let m: ModelMeta
      try {
        m = (await request(modelPath, signal)) as ModelMeta
      } catch (err) {
        // A model the server does not (yet) have: wait for it as for an outage.
        if ((err as { code?: string }).code === 'MI_ERR_AI_REMOTE_REJECTED') {
          throw new MI_ERR_AI_REMOTE_UNAVAILABLE(label, (err as Error).message, { cause: err })
        }
        throw err
      }
      return { inputs: m.inputs ?? [], outputs: m.outputs ?? [] }
    },
    async infer(input, rows, n, width, outputs, signal) {
      const body = JSON.stringify({
        inputs: [{ name: input, shape: [n, width], datatype: 'FP32', data: Array.from(rows) }],
        outputs: outputs.map((name) => ({ name })),
      })
      const res = (await request(`${modelPath}/infer`, signal, body)) as V2InferResponse
      const out = new Map<string, OutputTensor>()
      for (const o of res.outputs ?? [])
        out.set(o.name, { dims: o.shape, data: contentsData(o.datatype, o.data) })
      return out
    },
    close() {},
  }
}
