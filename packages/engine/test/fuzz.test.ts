/**
 * Wire fuzzer (issue 11, "Fuzzing in CI"): seeded mutations of valid frames of every type, sent
 * before and after the handshake over real TCP to a real engine, including compressed BATCHes,
 * trailing data after a zstd frame and zstd bombs. Every response is compared with an independent
 * reference model (fixtures/_wire-model.ts): same NACKs, PONGs and ERROR in the same order, ACKs
 * monotonic and never past what was sent, and the final ACK where no fatal error ended the session.
 *
 * Bounded by default (MI_FUZZ_FRAMES, default 100 000 frames, as issue 11 asks); MI_SOAK=1 runs
 * 10 000 000.
 * MI_FUZZ_SEED reproduces a run (the seed is printed on failure).
 */
import { crc32, zstdCompressSync } from 'node:zlib'
import { decodeNackOrError, encodeHello, FrameType } from '@module-ingest/protocol'
import { MipSocket, type ReceivedFrame } from '@module-ingest/testing'
import { seededRandom } from '@module-ingest/testing/random'
import test from 'ava'
import { startTestServer } from './fixtures/_server.ts'
import { type Expected, WireModel } from './fixtures/_wire-model.ts'

const SOAK = process.env.MI_SOAK === '1'
// 100k frames: 20.9 CPU-s (user+sys of the ava process tree, 49 s wall at load average 11-15 on 2
// cores) against 10.5 CPU-s for 40k: under the 40 CPU-s a CI test may cost, so the 100k.
// Measured: /usr/bin/time -f '%U %S %e' env MI_FUZZ_FRAMES=100000 npx ava test/fuzz.test.ts
const TOTAL = Number(process.env.MI_FUZZ_FRAMES ?? (SOAK ? 10_000_000 : 100_000))
const SEED = Number(process.env.MI_FUZZ_SEED ?? 0x5eed)
const MAX_FRAME = 64 * 1024
const PARALLEL = 8

/** Seeded, so a failing run reproduces; `int` and `pick` to choose mutations. */
function rng(seed: number) {
  const next = seededRandom(seed)
  const int = (n: number) => Math.floor(next() * n)
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]! }
}
type Rng = ReturnType<typeof rng>

function frame(type: number, seq: bigint, payload: Buffer, flags = 0): Buffer {
  const f = Buffer.alloc(24 + payload.length)
  f.writeUInt16BE(0x4d49, 0)
  f[2] = 1
  f[3] = type
  f.writeUInt16BE(flags, 4)
  f.writeUInt32BE(payload.length, 8)
  f.writeBigUInt64BE(seq, 12)
  payload.copy(f, 20)
  f.writeUInt32BE(crc32(f.subarray(0, 20 + payload.length)), 20 + payload.length)
  return f
}

function fixCrc(f: Buffer): Buffer {
  if (f.length >= 24) f.writeUInt32BE(crc32(f.subarray(0, f.length - 4)), f.length - 4)
  return f
}

const STREAMS = ['telemetry.a', 'telemetry.b-1', 'telemetry._x', 'secret.x', '.bad', 'a b', 'é', '']
function record(r: Rng): Buffer {
  const stream = r.next() < 0.8 ? r.pick(STREAMS.slice(0, 3)) : r.pick(STREAMS)
  const name = Buffer.from(stream, 'latin1')
  const body = Buffer.alloc(r.int(40), r.int(256))
  const b = Buffer.alloc(1 + name.length + 8 + body.length)
  b[0] = r.next() < 0.02 ? r.int(256) : name.length
  name.copy(b, 1)
  const ts =
    r.next() < 0.05
      ? r.pick([1n << 53n, 1n << 63n, (1n << 64n) - 1000n]) + BigInt(r.int(1000)) // any u64 is valid
      : r.next() < 0.5
        ? 0n
        : BigInt(r.int(2 ** 31)) * 1000n
  b.writeBigUInt64BE(ts, 1 + name.length)
  body.copy(b, 1 + name.length + 8)
  return b
}

function batch(r: Rng, n: number): Buffer {
  const recs = Array.from({ length: n }, () => record(r))
  const parts: Buffer[] = [Buffer.alloc(4)]
  parts[0]!.writeUInt32BE(n)
  for (const rec of recs) {
    const h = Buffer.alloc(4)
    h.writeUInt32BE(rec.length)
    parts.push(h, rec)
  }
  return Buffer.concat(parts)
}

class Generator {
  readonly r: Rng
  readonly compressed = new Map<string, Buffer | 'bad'>()
  seq = 0n
  /** Low enough that a session parses hundreds of frames before a fatal mutation ends it. */
  readonly mutationRate: number
  constructor(r: Rng) {
    this.r = r
    this.mutationRate = r.pick([0.001, 0.003, 0.01, 0.03])
  }

  nextSeq(): bigint {
    const r = this.r
    const x = r.next()
    if (x < 0.03) return 0n
    if (x < 0.08) return this.seq > 1n ? BigInt(r.int(Number(this.seq))) : 1n // duplicate
    if (x < 0.09) return 0xffff_ffff_ffff_ffffn - BigInt(r.int(3))
    this.seq += BigInt(1 + (r.next() < 0.1 ? r.int(5) : 0))
    return this.seq
  }

  compressedBatch(): Buffer {
    const r = this.r
    const content = batch(r, 1 + r.int(4))
    let payload = zstdCompressSync(content)
    let verdict: Buffer | 'bad' = content
    const x = r.next()
    if (x < 0.15) {
      payload = Buffer.concat([payload, Buffer.alloc(1 + r.int(8), r.int(256))]) // trailing bytes
      verdict = 'bad'
    } else if (x < 0.25) {
      payload = Buffer.concat([payload, zstdCompressSync(r.next() < 0.5 ? Buffer.alloc(0) : content)])
      verdict = 'bad'
    } else if (x < 0.3) {
      payload = Buffer.concat([payload, Buffer.from([0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 7, 7])])
      verdict = 'bad'
    } else if (x < 0.4) {
      // zstd bomb: tiny on the wire, far past max_frame once inflated.
      payload = zstdCompressSync(Buffer.alloc(MAX_FRAME * (2 + r.int(30))))
      verdict = 'bad'
    } else if (x < 0.45) {
      payload = payload.subarray(0, Math.max(1, payload.length - 1 - r.int(4)))
      verdict = 'bad'
    }
    this.compressed.set(payload.toString('hex'), verdict)
    return frame(0x11, this.nextSeq(), payload, 1)
  }

  /** A valid frame of a random type (some types are valid frames the server must refuse). */
  valid(preAuth: boolean): Buffer {
    const r = this.r
    const x = r.next()
    if (preAuth && x < 0.6) {
      const hello = encodeHello({
        module: r.pick(['sensor-x', 'mi:subscribers', 'nobody']),
        method: 'token',
        token: `mi_bad${r.int(1e6)}`,
      })
      return hello
    }
    if (x < 0.42) return frame(0x10, this.nextSeq(), record(r))
    if (x < 0.64) return frame(0x11, this.nextSeq(), batch(r, r.next() < 0.05 ? 0 : 1 + r.int(5)))
    if (x < 0.76) return this.compressedBatch()
    if (x < 0.91) return frame(0x30, BigInt(r.int(1e9)), Buffer.alloc(r.int(65), r.int(256)))
    if (x < 0.996) return frame(0x31, BigInt(r.int(1e9)), Buffer.alloc(r.int(10)))
    // Fatal after the handshake: a second HELLO, or a type a client never sends.
    if (x < 0.998) return encodeHello({ module: 'sensor-x', method: 'token', token: 'mi_whatever' })
    // Types a client never sends (server types, unknown ones).
    return frame(r.pick([0x00, 0x01, 0x03, 0x20, 0x21, 0x42, 0x7f, 0xff]), 1n, Buffer.alloc(r.int(8)))
  }

  mutate(f: Buffer): Buffer {
    const r = this.r
    const m = Buffer.from(f)
    const x = r.next()
    if (x < 0.2) {
      const at = r.int(m.length)
      m[at] = m[at]! ^ (1 << r.int(8)) // bit flip, CRC left stale
      return m
    }
    if (x < 0.45) {
      // A header field changed, CRC fixed: exercises every check after the CRC, and the order.
      const field = r.int(7)
      if (field === 0) m[r.int(2)] = r.int(256)
      else if (field === 1) m[2] = r.pick([0, 2, 255])
      else if (field === 2) m[3] = r.int(256)
      else if (field === 3) m.writeUInt16BE(r.pick([1, 2, 3, 4, 0x8000, r.int(65536)]), 4)
      else if (field === 4) m.writeUInt16BE(1 + r.int(65535), 6)
      else if (field === 5) m.writeBigUInt64BE(r.pick([0n, 1n, 0xffff_ffff_ffff_ffffn]), 12)
      else m.writeUInt32BE(r.pick([0, 1, MAX_FRAME + 1, 4097, 0xffffffff, r.int(200)]), 8)
      return fixCrc(m)
    }
    if (x < 0.75 && m.length > 24 && (m.readUInt16BE(4) & 1) === 0) {
      // Payload bytes changed or cut, L and CRC kept consistent: payload checks (NACK codes).
      let payload = Buffer.from(m.subarray(20, m.length - 4))
      const y = r.next()
      if (y < 0.4 && payload.length > 0) payload[r.int(payload.length)] = r.int(256)
      else if (y < 0.7) payload = payload.subarray(0, r.int(payload.length + 1))
      else payload = Buffer.concat([payload, Buffer.alloc(1 + r.int(4), r.int(256))])
      return frame(m[3]!, m.readBigUInt64BE(12), payload, m.readUInt16BE(4))
    }
    if (x < 0.85) return m.subarray(0, r.int(m.length)) // truncated: the stream ends mid-frame
    // An announced length far past what follows: the server must wait, or refuse at the header.
    const h = Buffer.from(m.subarray(0, 20))
    h.writeUInt32BE(r.pick([MAX_FRAME, MAX_FRAME + 1, 0x7fffffff]), 8)
    return h
  }

  /** One connection's bytes: valid frames with a few mutated ones, and how many frames it holds. */
  stream(preAuth: boolean, frames: number): Buffer {
    const parts: Buffer[] = []
    for (let i = 0; i < frames; i++) {
      const f = this.valid(preAuth)
      parts.push(this.r.next() < this.mutationRate ? this.mutate(f) : f)
    }
    return Buffer.concat(parts)
  }
}

function describe(f: ReceivedFrame): Expected | { kind: 'ACK'; seq: bigint } | { kind: string } {
  if (f.type === FrameType.ACK) return { kind: 'ACK', seq: f.seq }
  if (f.type === FrameType.NACK) return { kind: 'NACK', seq: f.seq, code: decodeNackOrError(f.payload).code }
  if (f.type === FrameType.PONG) return { kind: 'PONG', seq: f.seq, payload: f.payload.toString('hex') }
  if (f.type === FrameType.ERROR) return { kind: 'ERROR', code: decodeNackOrError(f.payload).code }
  return { kind: `type ${f.type}` }
}

const big = (_k: string, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)

test('wire fuzzer: every response matches the reference model', async (t) => {
  t.timeout(SOAK ? 24 * 3600_000 : 600_000)
  const s = await startTestServer({
    'limits.maxFrameBytes': MAX_FRAME,
    'limits.handshakeTimeoutMs': 120_000,
    'limits.failedHandshakesPerMinute': 1_000_000_000,
    'limits.maxConnectionsPerIp': 100_000,
  })
  t.teardown(() => s.stop())
  const rssBefore = process.memoryUsage().rss
  let sent = 0
  let conns = 0
  const failures: string[] = []

  const one = async (index: number, r: Rng) => {
    const preAuth = r.next() < 0.15
    const gen = new Generator(r)
    // A distinct address (and /24) per pre-auth connection: every one of them fails its HELLO,
    // and the throttle's per-network limit must not turn those into RATE_LIMITED.
    const local = preAuth ? `127.${1 + ((index >> 8) % 250)}.${index & 0xff}.1` : '127.0.0.1'
    let sock: MipSocket
    if (preAuth) sock = await MipSocket.open(s.port, '127.0.0.1', local)
    else sock = (await MipSocket.session(s.port, { module: `sensor-fz${index}`, token: s.token })).sock
    // Several rounds per session (a session is costly to open on a loaded box): the model is fed
    // every round's bytes, so a frame cut at the end of one round continues into the next.
    const rounds = preAuth ? 1 : 1 + r.int(30)
    const sentBytes: Buffer[] = []
    const expected = new WireModel({
      maxFrame: MAX_FRAME,
      preAuth,
      scopePrefix: 'telemetry.',
      compressed: gen.compressed,
    })
    const got: ReturnType<typeof describe>[] = []
    let lastAck = 0n
    let others = 0
    let closed = false
    for (let round = 0; round < rounds && !expected.fatal && !closed; round++) {
      const bytes = gen.stream(preAuth, preAuth ? 1 + r.int(4) : 20 + r.int(300))
      sentBytes.push(bytes)
      expected.feed(bytes)
      sock.write(bytes)
      try {
        for (;;) {
          // NACKs and PONGs come at once; the ACK waits for fdatasync, so only the last round waits for it.
          const last = round === rounds - 1
          if (
            !expected.fatal &&
            others >= expected.responses.length &&
            (!last || lastAck >= expected.finalAck)
          )
            break
          if (others > expected.responses.length) break
          const d = describe(await sock.next(60_000))
          got.push(d)
          if (d.kind === 'ACK') {
            const seq = (d as { seq: bigint }).seq
            if (seq <= lastAck || seq > expected.maxSent) throw new Error(`bad ACK ${seq} after ${lastAck}`)
            lastAck = seq
          } else others++
          if (d.kind === 'ERROR') break
        }
      } catch (err) {
        closed = true
        if (!(expected.fatal && (err as Error).message === 'connection closed'))
          failures.push(`conn ${index}: ${(err as Error).message}`)
      }
    }
    sent += expected.parsed
    const actual = got.filter((g) => g.kind !== 'ACK')
    if (JSON.stringify(actual, big) !== JSON.stringify(expected.responses, big)) {
      failures.push(
        `conn ${index} (${preAuth ? 'pre' : 'post'}-auth): expected ${JSON.stringify(expected.responses, big)}, got ${JSON.stringify(actual, big)}; bytes ${Buffer.concat(sentBytes).toString('hex').slice(0, 400)}`,
      )
    }
    if (lastAck > expected.finalAck) failures.push(`conn ${index}: ACK ${lastAck} past ${expected.finalAck}`)
    sock.close()
    conns++
  }

  let index = 0
  const lane = async () => {
    while (sent < TOTAL && failures.length === 0) {
      const i = index++
      // Per connection, not per lane: the same seed gives the same streams whatever the timing.
      await one(i, rng(Math.imul(SEED, 0x9e3779b1) ^ i))
    }
  }
  await Promise.all(Array.from({ length: PARALLEL }, lane))
  t.log(
    `seed ${SEED}: ${sent} frames over ${conns} connections; RSS ${Math.round(rssBefore / 2 ** 20)} → ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`,
  )
  t.deepEqual(failures.slice(0, 5), [], `seed ${SEED}`)
  // The server is still healthy: a fresh session is served.
  const { sock } = await MipSocket.session(s.port, { module: 'sensor-after', token: s.token })
  sock.write(frame(0x10, 1n, record(rng(1))))
  const f = await sock.next(30_000)
  t.true(f.type === FrameType.ACK || f.type === FrameType.NACK)
  sock.close()
})
