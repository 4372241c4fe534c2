// Property tests: round trips under arbitrary chunking, and "only ProtocolError with a spec code"
// for arbitrary and mutated input. Runs scale with MI_SOAK=1.
import test from 'ava'
import fc from 'fast-check'
import {
  decodeBatch,
  decodeRecord,
  encodeBatchFrame,
  encodeData,
  encodeFrame,
  FrameDecoder,
  FrameType,
  isErrorCode,
  ProtocolError,
} from '../src/index.ts'
import { cut, decodeAll } from './fixtures/_frames.ts'

const numRuns = process.env.MI_SOAK === '1' ? 5000 : 200
const KEY = Buffer.alloc(32, 3)

const streamArb = fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,40}$/)
const recordArb = fc.record({
  stream: streamArb,
  // Any u64: a number up to 2^53-1, a bigint above (the decoder's representation).
  ts: fc.oneof(fc.maxSafeNat(), fc.bigInt({ min: 2n ** 53n, max: 0xffff_ffff_ffff_ffffn })),
  body: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
})
const seqArb = fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn })

type Spec =
  | { kind: 'data'; seq: bigint; rec: { stream: string; ts: number | bigint; body: Buffer } }
  | {
      kind: 'batch'
      seq: bigint
      recs: { stream: string; ts: number | bigint; body: Buffer }[]
      compress: boolean
    }
  | { kind: 'ping'; seq: bigint; payload: Buffer }

const specArb: fc.Arbitrary<Spec> = fc.oneof(
  fc.record({ kind: fc.constant('data' as const), seq: seqArb, rec: recordArb }),
  fc.record({
    kind: fc.constant('batch' as const),
    seq: seqArb,
    recs: fc.array(recordArb, { minLength: 1, maxLength: 5 }),
    compress: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('ping' as const),
    seq: seqArb,
    payload: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  }),
)

function encode(s: Spec, mac: boolean): Buffer {
  const macKey = mac ? KEY : null
  if (s.kind === 'data') return encodeData(s.seq, s.rec, macKey)
  if (s.kind === 'batch') return encodeBatchFrame(s.seq, s.recs, { compress: s.compress, macKey })
  return encodeFrame(FrameType.PING, s.seq, s.payload, { macKey })
}

function check(
  t: { deepEqual: (a: unknown, b: unknown) => void },
  s: Spec,
  f: { type: number; seq: bigint; flags: number; payload: Uint8Array },
) {
  t.deepEqual(f.seq, s.seq)
  const norm = (r: { stream: string; ts: number | bigint; body: Uint8Array }) => ({
    ...r,
    body: Buffer.from(r.body),
  })
  if (s.kind === 'data') t.deepEqual(norm(decodeRecord(f.payload)), s.rec)
  else if (s.kind === 'batch') t.deepEqual(decodeBatch(f.payload, f.flags, 1 << 20).map(norm), s.recs)
  else t.deepEqual(Buffer.from(f.payload), s.payload)
}

test('encode → decode round trip under random chunking (CRC and MAC sessions)', (t) => {
  fc.assert(
    fc.property(
      fc.array(specArb, { minLength: 1, maxLength: 12 }),
      fc.boolean(),
      fc.array(fc.nat(), { maxLength: 20 }),
      (specs, mac, cuts) => {
        const bytes = Buffer.concat(specs.map((s) => encode(s, mac)))
        const dec = new FrameDecoder({ maxFrame: 1 << 20, role: 'server' })
        if (mac) dec.setMacKey(KEY)
        const frames = decodeAll(dec, cut(bytes, cuts))
        t.is(frames.length, specs.length)
        for (const [i, s] of specs.entries()) check(t, s, frames[i]!)
        t.is(dec.bufferedBytes, 0)
      },
    ),
    { numRuns },
  )
})

test('round trip fed 1 byte at a time, and all at once', (t) => {
  fc.assert(
    fc.property(fc.array(specArb, { minLength: 1, maxLength: 4 }), (specs) => {
      const bytes = Buffer.concat(specs.map((s) => encode(s, false)))
      for (const pieces of [[...bytes].map((b) => Uint8Array.of(b)), [bytes]]) {
        const frames = decodeAll(new FrameDecoder({ maxFrame: 1 << 20, role: 'server' }), pieces)
        t.is(frames.length, specs.length)
        for (const [i, s] of specs.entries()) check(t, s, frames[i]!)
      }
    }),
    { numRuns: Math.ceil(numRuns / 4) },
  )
})

function onlyProtocolErrors(bytes: Uint8Array, pieces: Uint8Array[], mac: boolean): void {
  const dec = new FrameDecoder({ maxFrame: 4096, role: 'server' })
  if (mac) dec.setMacKey(KEY)
  try {
    for (const p of pieces) {
      dec.push(p)
      for (let f = dec.next(); f; f = dec.next()) {
        // Payload decoders must hold the same contract on whatever the framing let through.
        try {
          if (f.type === FrameType.DATA) decodeRecord(f.payload)
          if (f.type === FrameType.BATCH) decodeBatch(f.payload, f.flags, 4096)
        } catch (err) {
          if (!(err instanceof ProtocolError) || !isErrorCode(err.code)) throw err
        }
      }
    }
  } catch (err) {
    if (!(err instanceof ProtocolError) || !isErrorCode(err.code)) {
      throw new Error(`non-protocol error on ${Buffer.from(bytes).toString('hex')}`, { cause: err })
    }
  }
}

test('arbitrary bytes produce frames or a ProtocolError with a spec code, nothing else', (t) => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.array(fc.nat(), { maxLength: 5 }),
      fc.boolean(),
      (a, cuts, mac) => {
        onlyProtocolErrors(a, cut(Buffer.from(a), cuts), mac)
      },
    ),
    { numRuns },
  )
  t.pass()
})

test('mutated valid streams produce frames or a ProtocolError with a spec code', (t) => {
  fc.assert(
    fc.property(
      fc.array(specArb, { minLength: 1, maxLength: 4 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 5 }),
      fc.boolean(),
      (specs, muts, cuts, mac) => {
        const bytes = Buffer.concat(specs.map((s) => encode(s, mac)))
        for (const [at, v] of muts) bytes[at % bytes.length] = v
        onlyProtocolErrors(bytes, cut(bytes, cuts), mac)
      },
    ),
    { numRuns },
  )
  t.pass()
})

test('garbage payloads inside valid frames: record and batch decoders throw only BAD_PAYLOAD', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), fc.boolean(), (a, compressed) => {
      for (const fn of [() => decodeRecord(a), () => decodeBatch(a, compressed ? 1 : 0, 4096)]) {
        try {
          fn()
        } catch (err) {
          if (!(err instanceof ProtocolError) || err.code !== 9) throw err
        }
      }
    }),
    { numRuns },
  )
  t.pass()
})
