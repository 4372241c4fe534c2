/**
 * Decode + CRC throughput of the MIP/1 FrameDecoder. Not part of the test suite.
 *
 * What: 64 KiB chunks packed with whole DATA frames (128 B and 1 KiB bodies) are pushed into one
 * FrameDecoder and drained with next(); every frame's CRC-32 (or MAC) is verified. Reported as
 * frames/s and MB/s of wire bytes. Extra rows: the same plus decodeRecord (what the engine does per
 * frame), a MAC session, a baseline of bare zlib.crc32 over the same chunks (the floor for CRC
 * frames), and the hot-path encoders (writeData, writeAck) for comparison.
 *
 * Run: node packages/protocol/bench/decode.bench.ts   (or `pnpm --filter @module-ingest/protocol bench`)
 * Env: BENCH_MS=<ms per case> (default 1500). Needs Node 24 (zlib.crc32).
 */
import { crc32 } from 'node:zlib'
import { decodeRecord, encodeData, FrameDecoder, writeAck, writeData } from '../src/index.ts'

const caseMs = Number(process.env.BENCH_MS ?? 1500)
const CHUNK = 64 * 1024
const macKey = Buffer.alloc(32, 9)

function chunkOf(bodyBytes: number, mac: boolean): { chunk: Buffer; frames: number } {
  const body = Buffer.alloc(bodyBytes, 0x61)
  const parts: Buffer[] = []
  let size = 0
  for (let seq = 1n; ; seq++) {
    const f = encodeData(
      seq,
      { stream: 'telemetry.gps', ts: 1_700_000_000_000_000, body },
      mac ? macKey : null,
    )
    if (size + f.length > CHUNK) break
    parts.push(f)
    size += f.length
  }
  return { chunk: Buffer.concat(parts), frames: parts.length }
}

function run(name: string, bytesPerIter: number, framesPerIter: number, iter: () => void): void {
  for (let i = 0; i < 50; i++) iter() // warm-up
  let iters = 0
  const start = process.hrtime.bigint()
  const deadline = start + BigInt(caseMs) * 1_000_000n
  let now = start
  while (now < deadline) {
    for (let i = 0; i < 20; i++) iter()
    iters += 20
    now = process.hrtime.bigint()
  }
  const secs = Number(now - start) / 1e9
  const fps = (iters * framesPerIter) / secs
  const mbps = (iters * bytesPerIter) / secs / 1e6
  console.log(
    `${name.padEnd(44)} ${Math.round(fps).toLocaleString('en').padStart(12)} frames/s ${mbps.toFixed(0).padStart(6)} MB/s`,
  )
}

console.log(`node ${process.version}, ${caseMs} ms per case, 64 KiB chunks of whole frames\n`)
for (const bodyBytes of [128, 1024]) {
  const { chunk, frames } = chunkOf(bodyBytes, false)
  const dec = new FrameDecoder({ maxFrame: 1 << 20, role: 'server' })
  run(`decode+crc ${bodyBytes} B body`, chunk.length, frames, () => {
    dec.push(chunk)
    while (dec.next() !== null);
  })
  run(`decode+crc+decodeRecord ${bodyBytes} B body`, chunk.length, frames, () => {
    dec.push(chunk)
    for (let f = dec.next(); f !== null; f = dec.next()) decodeRecord(f.payload)
  })
  const m = chunkOf(bodyBytes, true)
  const mdec = new FrameDecoder({ maxFrame: 1 << 20, role: 'server' })
  mdec.setMacKey(macKey)
  run(`decode+mac ${bodyBytes} B body`, m.chunk.length, m.frames, () => {
    mdec.push(m.chunk)
    while (mdec.next() !== null);
  })
  run(`baseline zlib.crc32 per frame ${bodyBytes} B`, chunk.length, frames, () => {
    const step = chunk.length / frames
    for (let o = 0; o < chunk.length; o += step) crc32(chunk.subarray(o, o + step - 4))
  })
  const out = Buffer.allocUnsafe(CHUNK)
  const body = Buffer.alloc(bodyBytes, 0x61)
  run(`encode writeData ${bodyBytes} B body`, chunk.length, frames, () => {
    let o = 0
    for (let i = 0; i < frames; i++) o = writeData(out, o, BigInt(i + 1), 'telemetry.gps', 1, body)
  })
  console.log('')
}
const ackBuf = Buffer.allocUnsafe(24 * 1000)
run('encode writeAck', 24 * 1000, 1000, () => {
  for (let i = 0, o = 0; i < 1000; i++) o = writeAck(ackBuf, o, BigInt(i + 1))
})
