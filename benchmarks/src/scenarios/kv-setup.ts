/**
 * The keyed store's benchmark setup, shared by the kv scenarios (sub-kv.ts) and the kv get
 * harnesses (kv-get-client.ts, kv-get-tail.ts): the `kv` entry, a server with it, and the same
 * keys preloaded into module-ingest (through MIP/1, waited until applied) or Redis.
 */
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect } from '@module-ingest/client'
import { encodeOp, streamOf } from '@module-ingest/kv-protocol'
import { Redis } from 'ioredis'
import { type OursServer, type SubscriberEntry, startOurs } from '../targets/ours.ts'

export const kNs = 'bench'
const kChunk = 500

const value = (i: number) => ({ temp: i % 100, fw: '1.2.3' })
export const keyOf = (i: number) => `device-${i}`

/**
 * The scenario's `kv` entry: every namespace, the store in the data dir. Deliveries take the
 * plugin's own default (up to 20,000 sets, 4 MiB: packages/kv/src/subscriber.ts says why); a
 * partial one waits 20 ms, not the runtime's 200.
 */
export const kKvEntry: SubscriberEntry = {
  name: 'kv',
  use: 'kv',
  streams: ['kv.*'],
  // maxRecords / maxBytes: the plugin's declared default (50,000 / 8 MiB) applies.
  batch: { maxWaitMs: 20 },
  options: { path: 'kv.sqlite' },
}

/** A server with the kv subscriber on `<dir>/data` (flush always, HTTP reads), `keys` keys preloaded. */
export async function startKvServer(dir: string, keys: number): Promise<OursServer> {
  const server = await startOurs({
    dataDir: join(dir, 'data'),
    flush: 'always',
    http: true,
    subscribers: [kKvEntry],
  })
  try {
    await preloadOurs(server, keys)
  } catch (err) {
    await server.kill()
    throw err
  }
  return server
}

/** Load keys 0…n-1 through MIP/1 (transactions of 500 sets, 16 in flight), then wait until applied. */
export async function preloadOurs(server: OursServer, n: number): Promise<void> {
  const client = await connect({ port: server.port, module: 'bench-preload', auth: { token: server.token } })
  try {
    const pending: Promise<unknown>[] = []
    for (let i = 0; i < n; i += kChunk) {
      const size = Math.min(kChunk, n - i)
      const records = Array.from({ length: size }, (_, k) => ({
        stream: streamOf(kNs),
        body: encodeOp({ op: 'set', key: keyOf(i + k), value: { type: 'json', value: value(i + k) } }, size),
      }))
      pending.push(client.sendBatch(records))
      if (pending.length >= 16) await pending.shift()
    }
    await Promise.all(pending)
  } finally {
    await client.close()
  }
  for (;;) {
    const s = (await server.stats()).subscribers?.find((x) => x.name === 'kv')
    if (s && s.lagRecords === 0 && s.delivered >= n) return
    if (s?.state === 'failed') throw new Error(`kv subscriber failed: ${s.lastError?.message}`)
    await sleep(100)
  }
}

export async function preloadRedis(port: number, n: number): Promise<void> {
  const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0 })
  await r.connect()
  try {
    for (let i = 0; i < n; i += kChunk) {
      const p = r.pipeline()
      for (let k = i; k < Math.min(n, i + kChunk); k++) p.set(keyOf(k), JSON.stringify(value(k)))
      await p.exec()
    }
  } finally {
    r.disconnect()
  }
}
