import { randomBytes } from 'node:crypto'
import { encodeOp } from '@module-ingest/kv-protocol'

/**
 * What a generator connection sends: a pool of record bodies, cycled frame by frame. It is built
 * once per connection before the load starts (the hot path only copies), and it is described by
 * plain data so the plan can cross the fork boundary.
 *
 * - `random`: one incompressible body of `bodyBytes` (the throughput and latency rows).
 * - `json`: JSON objects of numeric `fields` from a smooth signal, padded to `bodyBytes` with a
 *   `pad` string when that is larger (the ai, index and s3 rows: what sensors send): `x`s, or
 *   with `noisyPad` pseudo-random digits (about 2.4× compressible instead of 40×).
 * - `kv-set`: kv `set` operations (`@module-ingest/kv-protocol`) on `keys` distinct keys, spread
 *   evenly over the key space when the pool is smaller; for Redis the same keys as `SET key value`.
 */
export type BodySpec =
  | { kind: 'random' }
  | { kind: 'json'; fields: string[]; noisyPad?: boolean }
  | { kind: 'kv-set'; ns: string; keys: number }

export interface BodyItem {
  body: Buffer
  /** kv-set only: the key, and the value as Redis stores it (the JSON text). */
  key?: string
  value?: string
}

/** Distinct bodies per connection at most: enough variety, bounded memory with many connections. */
const kPoolMax = 4096

/** `n` pseudo-random decimal digits seeded by `seed`: compress about like noisy numeric readings. */
function digits(seed: number, n: number): string {
  let x = (seed * 2654435761) >>> 0 || 1
  let out = ''
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out += String((x >>> 0) % 10)
  }
  return out
}

export function makeBodies(spec: BodySpec, bodyBytes: number, connection: number): BodyItem[] {
  if (spec.kind === 'random') return [{ body: randomBytes(bodyBytes) }]
  if (spec.kind === 'json') {
    // 3,600: with a producer-time spread of an hour, one record per second of it per connection.
    return Array.from({ length: 3600 }, (_, i) => {
      const t = connection * 3600 + i
      const o: Record<string, number | string> = {}
      spec.fields.forEach((f, k) => {
        o[f] = Math.round((Math.sin(t / 50 + k) + k) * 1000) / 1000
      })
      let text = JSON.stringify(o)
      const room = bodyBytes - text.length - 9 // ,"pad":"" is 9 characters
      if (room > 0)
        text = `${text.slice(0, -1)},"pad":"${spec.noisyPad ? digits(t, room) : 'x'.repeat(room)}"}`
      return { body: Buffer.from(text) }
    })
  }
  const n = Math.min(spec.keys, kPoolMax)
  // Connection c starts at a different offset, so together the connections touch more keys.
  const stride = spec.keys / n
  return Array.from({ length: n }, (_, i) => {
    const key = `device-${(Math.floor(i * stride) + connection * 7919) % spec.keys}`
    const json = { temp: (connection + i) % 100, fw: '1.2.3' }
    return {
      body: Buffer.from(encodeOp({ op: 'set', key, value: { type: 'json', value: json } })),
      key,
      value: JSON.stringify(json),
    }
  })
}

/** The mean body size a spec produces (JSON bodies vary): a row's body_bytes and MB/s. */
export function meanBodyBytes(spec: BodySpec, bodyBytes: number): number {
  if (spec.kind === 'random') return bodyBytes
  const items = makeBodies(spec, bodyBytes, 0)
  return Math.round(items.reduce((a, x) => a + x.body.byteLength, 0) / items.length)
}
