// The test vectors of PROTOCOL.md ("Test vectors"), byte for byte, both directions.
import test from 'ava'
import {
  decodeRecord,
  encodeAck,
  encodeData,
  encodeFrame,
  encodeRecord,
  FrameDecoder,
  FrameType,
  hmacProof,
  sessionKey,
} from '../src/index.ts'
import { hex } from './fixtures/_frames.ts'

const DATA = hex(`4d 49 01 10 00 00 00 00 00 00 00 17 00 00 00 00 00 00 00 01
  09 74 65 6c 65 6d 65 74 72 79 00 06 0a 24 18 1e 40 00 68 65 6c 6c 6f
  ac e4 69 8a`)
const ACK = hex('4d 49 01 20 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 a9 c1 f8 4e')
const MODULE_KEY = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f')
const NONCE = hex('a0a1a2a3a4a5a6a7a8a9aaabacadaeaf')
const CNONCE = hex('b0b1b2b3b4b5b6b7b8b9babbbcbdbebf')
const PROOF = hex('f65720e774dcacbcaa844c83f08ebc2fd3073498024c8f3d059535c3a7032caa')
const SESSION_KEY = hex('675b25b8686648faea7c564c8fb67396c9991a0b6e1b32fcaba0097d921fc929')
const MAC_DATA = hex(`4d 49 01 10 00 02 00 00 00 00 00 17 00 00 00 00 00 00 00 01
  09 74 65 6c 65 6d 65 74 72 79 00 06 0a 24 18 1e 40 00 68 65 6c 6c 6f
  d9 4f 9e ab 7d 43 f6 a5 96 38 ac 44 97 4e 0b f0`)
const RECORD = { stream: 'telemetry', ts: 1700000000000000, body: Buffer.from('hello') }

test('DATA vector: encodeData and encodeFrame(encodeRecord) produce the 47 bytes', (t) => {
  t.is(DATA.length, 47)
  t.deepEqual(encodeData(1n, RECORD), DATA)
  t.deepEqual(encodeFrame(FrameType.DATA, 1n, encodeRecord(RECORD)), DATA)
})

test('DATA vector decodes to the record', (t) => {
  const dec = new FrameDecoder({ maxFrame: 1 << 20, role: 'server' })
  dec.push(DATA)
  const f = dec.next()
  t.truthy(f)
  t.is(f!.type, FrameType.DATA)
  t.is(f!.flags, 0)
  t.is(f!.seq, 1n)
  t.deepEqual({ ...decodeRecord(f!.payload), body: Buffer.from(decodeRecord(f!.payload).body) }, RECORD)
  t.is(dec.next(), null)
})

test('ACK vector: 24 bytes, round trip', (t) => {
  t.deepEqual(encodeAck(1n), ACK)
  const dec = new FrameDecoder({ maxFrame: 1 << 20, role: 'client' })
  dec.push(ACK)
  const f = dec.next()!
  t.is(f.type, FrameType.ACK)
  t.is(f.seq, 1n)
  t.is(f.payload.byteLength, 0)
})

test('HMAC handshake vector: proof and session key', (t) => {
  t.deepEqual(hmacProof(MODULE_KEY, NONCE, CNONCE, 'sensor-1'), PROOF)
  t.deepEqual(sessionKey(MODULE_KEY, NONCE, CNONCE), SESSION_KEY)
})

test('MAC DATA vector: 59 bytes with flags 0x0002, decodes in a MAC session', (t) => {
  t.is(MAC_DATA.length, 59)
  t.deepEqual(encodeData(1n, RECORD, SESSION_KEY), MAC_DATA)
  const dec = new FrameDecoder({ maxFrame: 1 << 20, role: 'server' })
  dec.setMacKey(SESSION_KEY)
  dec.push(MAC_DATA)
  const f = dec.next()!
  t.is(f.flags, 0x0002)
  t.is(decodeRecord(f.payload).stream, 'telemetry')
})
