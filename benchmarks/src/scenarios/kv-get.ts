/**
 * The ways the kv benchmarks read a key from our server, one function each (a get of a random key
 * → whether it was found), shared by the in-process get loops (sub-kv.ts, kv-get-client.ts) and
 * the quiet-get client process (kv-quiet-client.ts), which imports nothing heavier than this.
 *
 * - `sdkGet`: what an application does — `createKv(...)(ns).get(key)` of `@module-ingest/client`,
 *   which reads over one kept-alive connection with its own HTTP/1.1 GET client (kv-http.ts) and
 *   parses the typed entry. The kv scenarios' rows use it (`get_client`).
 * - `agentGet`: `node:http` with a keep-alive Agent holding one socket (the SDK's transport before).
 * - `fetchGet`: `fetch` (Node's bundled undici: a request and a response object per get).
 *
 * Client CPU per get of each: `node benchmarks/src/kv-get-client.ts`.
 */
import http from 'node:http'
import { createKv } from '@module-ingest/client'

export type KvGet = (key: string) => Promise<boolean>

export const kSdkClient = 'SDK get (createKv, kept-alive connection)'

export function sdkGet(port: number, token: string, ns: string): KvGet {
  const kv = createKv({ module: 'bench-get', api: `http://127.0.0.1:${port}`, token })(ns)
  return async (key) => (await kv.get(key)) !== undefined
}

export function agentGet(port: number, token: string, ns: string): KvGet {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const headers = { authorization: `Bearer ${token}` }
  return (key) =>
    new Promise<boolean>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: `/kv/v1/get?ns=${ns}&key=${key}`, agent, headers }, (res) => {
          res.resume()
          res.once('end', () => resolve(res.statusCode === 200))
          res.once('error', reject)
        })
        .once('error', reject)
    })
}

export function fetchGet(port: number, token: string, ns: string): KvGet {
  const headers = { authorization: `Bearer ${token}` }
  return async (key) => {
    const res = await fetch(`http://127.0.0.1:${port}/kv/v1/get?ns=${ns}&key=${key}`, { headers })
    await res.arrayBuffer()
    return res.ok
  }
}
